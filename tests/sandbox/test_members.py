"""getChatMember and the channels of the simulation API (the sponsor checks of the bot)."""

from __future__ import annotations

import httpx

from tests.sandbox.support import BOT_ID, Api

ADMIN_FIELDS = {
    "user",
    "status",
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_post_messages",
    "can_edit_messages",
}


async def _member(api: Api, chat: str, user_id: int) -> dict:
    return dict(await api.ok("getChatMember", chat_id=chat, user_id=user_id))


async def test_statuses_and_their_fields(api: Api, http: httpx.AsyncClient):
    channel = await api.channel("@sponsor")
    await api.say(1, "hi", first_name="Nima")
    assert await _member(api, "@sponsor", 1) == {
        "user": {"id": 1, "is_bot": False, "first_name": "Nima"},
        "status": "left",
    }
    await api.user(1, "join", chat="@sponsor")
    assert (await _member(api, "@sponsor", 1))["status"] == "member"
    by_id = await api.ok("getChatMember", chat_id=channel["id"], user_id=1)
    assert by_id["status"] == "member"
    for status, fields in {
        "kicked": {"user", "status", "until_date"},
        "creator": {"user", "status", "is_anonymous"},
        "administrator": ADMIN_FIELDS,
        "left": {"user", "status"},
    }.items():
        resp = await http.post("/sandbox/chats/@sponsor/members/1", json={"status": status})
        assert resp.status_code == 200
        member = await _member(api, "@sponsor", 1)
        assert (member["status"], set(member)) == (status, fields)
    await http.post("/sandbox/chats/sponsor/members/1", json={"status": "restricted"})  # "@" is optional
    restricted = await _member(api, "@sponsor", 1)
    assert restricted["status"] == "restricted" and restricted["is_member"] is True
    assert restricted["until_date"] == 0 and restricted["can_send_messages"] is False


async def test_the_bot_itself_is_an_administrator_of_its_channels(api: Api):
    await api.channel("@mine")
    bot = await _member(api, "@mine", BOT_ID)
    assert bot["status"] == "administrator" and bot["user"]["is_bot"] is True


async def test_what_the_bot_cannot_see(api: Api, http: httpx.AsyncClient):
    assert await api.fails("getChatMember", chat_id="@unknown_channel", user_id=1) == (
        400,
        "Bad Request: chat not found",
    )
    assert await api.fails("getChatMember", chat_id=-100999, user_id=1) == (400, "Bad Request: chat not found")
    await api.channel("@foreign", bot_is_admin=False)
    assert await api.fails("getChatMember", chat_id="@foreign", user_id=1) == (
        400,
        "Bad Request: member list is inaccessible",
    )
    await api.channel("@mine")
    assert await api.fails("getChatMember", chat_id="@mine", user_id=424242) == (400, "Bad Request: user not found")


async def test_banned_users_cannot_join(api: Api, http: httpx.AsyncClient):
    await api.channel("@strict")
    await http.post("/sandbox/chats/@strict/members/4", json={"status": "kicked"})
    resp = await http.post("/sandbox/users/4/join", json={"chat": "@strict"})
    assert resp.status_code == 403 and resp.json()["ok"] is False


async def test_chats_listing_and_validation(api: Api, http: httpx.AsyncClient):
    await api.channel("@one")
    await api.channel("@two", kind="supergroup", bot_is_admin=False)
    await api.user(7, "join", chat="@one")
    chats = (await http.get("/sandbox/chats")).json()["chats"]
    assert [(c["username"], c["type"], c["bot_is_admin"], c["members"]) for c in chats] == [
        ("@one", "channel", True, {"7": "member"}),
        ("@two", "supergroup", False, {}),
    ]
    assert chats[0]["title"] == "One"
    bad = await http.post("/sandbox/chats", json={"username": "@x y", "type": "channel"})
    assert bad.status_code == 400 and "username" in bad.json()["error"]
    bad = await http.post("/sandbox/chats", json={"username": "@okay", "type": "group"})
    assert bad.status_code == 400
    missing = await http.post("/sandbox/users/7/join", json={"chat": "@nowhere"})
    assert missing.status_code == 404
    status = await http.post("/sandbox/chats/@one/members/7", json={"status": "owner"})
    assert status.status_code == 400
