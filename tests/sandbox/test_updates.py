"""getUpdates: confirmation by offset, long polling, conflicts, and which updates are produced."""

from __future__ import annotations

import trio

from tests.sandbox.support import BOT_ID, Api

WAKE_DEADLINE_S = 2.0  # a waiting long poll answers this soon after the update exists
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


async def test_message_update_shape(api: Api):
    await api.say(11, "/start ref_42", first_name="Mina", username="mina", language_code="fa")
    [update] = await api.updates(timeout=0)
    assert set(update) == {"update_id", "message"}
    msg = update["message"]
    assert set(msg) == {"message_id", "from", "chat", "date", "text", "entities"}
    assert msg["from"] == {"id": 11, "is_bot": False, "first_name": "Mina", "username": "mina", "language_code": "fa"}
    assert msg["chat"] == {"id": 11, "first_name": "Mina", "username": "mina", "type": "private"}
    assert msg["text"] == "/start ref_42"
    assert msg["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_updates_repeat_until_a_later_offset_confirms_them(api: Api):
    for text in ("a", "b", "c"):
        await api.say(1, text)
    first = await api.updates(timeout=0)
    assert [u["message"]["text"] for u in first] == ["a", "b", "c"]
    ids = [u["update_id"] for u in first]
    assert ids == list(range(ids[0], ids[0] + 3))
    assert await api.updates(timeout=0) == first  # not confirmed yet: delivered again
    assert [u["update_id"] for u in await api.updates(ids[1], limit=1)] == [ids[1]]
    assert [u["update_id"] for u in await api.updates(ids[1] + 1)] == [ids[2]]
    assert await api.updates(ids[2] + 1) == []
    assert await api.updates(timeout=0) == []  # confirmed updates are gone for good


async def test_negative_offset_keeps_only_the_last_ones(api: Api):
    for text in ("a", "b", "c"):
        await api.say(1, text)
    assert [u["message"]["text"] for u in await api.updates(-1)] == ["c"]
    assert [u["message"]["text"] for u in await api.updates(timeout=0)] == ["c"]


async def test_long_poll_waits_and_wakes_on_an_update(api: Api):
    got: list[list[dict]] = []
    answered = trio.Event()

    async def poll() -> None:
        got.append(await api.updates(timeout=20))
        answered.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(poll)
        await api.until_polls_waiting(1)
        assert got == []
        sent_at = trio.current_time()
        await api.say(1, "wake up")
        with trio.fail_after(WAKE_DEADLINE_S):
            await answered.wait()
        assert trio.current_time() - sent_at < WAKE_DEADLINE_S
    assert [u["message"]["text"] for u in got[0]] == ["wake up"]


async def test_long_poll_times_out_empty(api: Api):
    start = trio.current_time()
    assert await api.updates(timeout=1) == []
    assert 0.9 <= trio.current_time() - start < 5


async def test_a_second_poll_ends_the_first_with_409(api: Api):
    first: list[tuple[int, str]] = []
    answered = trio.Event()

    async def older() -> None:
        first.append(await api.fails("getUpdates", timeout=20))
        answered.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(older)
        await api.until_polls_waiting(1)
        assert await api.updates(timeout=0) == []
        with trio.fail_after(WAKE_DEADLINE_S):
            await answered.wait()
    assert first == [(409, CONFLICT)]


async def test_block_and_unblock_give_my_chat_member(api: Api, http):
    await api.say(5, "hi", first_name="Reza")
    await api.updates(timeout=0)
    offset = (await api.updates(timeout=0))[-1]["update_id"] + 1
    await api.user(5, "block")
    await api.user(5, "unblock")
    updates = await api.updates(offset)
    changes = [u["my_chat_member"] for u in updates]
    assert [(c["old_chat_member"]["status"], c["new_chat_member"]["status"]) for c in changes] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]
    change = changes[0]
    assert set(change) == {"chat", "from", "date", "old_chat_member", "new_chat_member"}
    assert change["chat"]["id"] == 5 and change["from"]["id"] == 5
    assert change["new_chat_member"] == {
        "user": {"id": BOT_ID, "is_bot": True, "first_name": "Sandbox Bot", "username": "sandbox_bot"},
        "status": "kicked",
        "until_date": 0,
    }
    users = (await http.get("/sandbox/users")).json()["users"]
    assert users == [{"id": 5, "first_name": "Reza", "username": None, "language_code": None, "blocked": False}]


async def test_chat_member_updates_only_when_asked_for(api: Api):
    await api.channel("@sponsor_one")
    await api.user(3, "join", chat="@sponsor_one")  # default allowed_updates: no chat_member
    assert [k for u in await api.updates(timeout=0) for k in u if k != "update_id"] == ["my_chat_member"]
    offset = (await api.updates(timeout=0))[-1]["update_id"] + 1
    assert await api.updates(offset, allowed_updates=["message", "chat_member"]) == []
    await api.user(3, "leave", chat="@sponsor_one")
    await api.user(3, "join", chat="@sponsor_one")
    updates = await api.updates(offset)
    moves = [
        (u["chat_member"]["old_chat_member"]["status"], u["chat_member"]["new_chat_member"]["status"]) for u in updates
    ]
    assert moves == [("member", "left"), ("left", "member")]
    member = updates[0]["chat_member"]
    assert member["chat"]["type"] == "channel" and member["chat"]["username"] == "sponsor_one"
    assert member["from"]["id"] == 3 and member["new_chat_member"]["user"]["id"] == 3
    # The choice is remembered: my_chat_member was not asked for this time, so none comes.
    await api.user(3, "block")
    assert await api.updates(updates[-1]["update_id"] + 1) == []


async def test_no_chat_member_updates_where_the_bot_is_not_admin(api: Api):
    await api.updates(allowed_updates=["chat_member"])
    await api.channel("@not_mine", bot_is_admin=False)
    await api.user(3, "join", chat="@not_mine")
    assert await api.updates(timeout=0) == []
