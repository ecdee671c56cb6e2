"""Sponsor locks through Router.route on a real SQLite file: the prompt, the held link, "I've
joined", joins credited once, the cache, chat-member updates, caps, expiry, a lock that can't be
checked, and a restart in between."""

from __future__ import annotations

import time

import pytest

from core.callback_data import CallbackCodec
from gateway.locks import MemberCache, transition
from tests.gateway.gatekit import ADMIN, World, buttons, check_button, prompt_of, yt

CHANNEL = "@gate_sponsor"


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()


def figures(world: World, lock_id: int) -> dict[str, int]:
    rows = world.db.execute(
        "SELECT status, count(*) FROM sponsor_users WHERE sponsor_id = ? GROUP BY status", [lock_id]
    )
    return dict(rows.fetchall())


# ---- the pieces ---------------------------------------------------------------------------------


def test_the_cache_keeps_members_longer_than_non_members_and_stays_bounded():
    now = [0.0]
    cache = MemberCache(size=3, member_ttl=600, nonmember_ttl=30, clock=lambda: now[0])
    cache.put(1, 1, True)
    cache.put(2, 1, False)
    now[0] = 31
    member = cache.get(1, 1)
    assert member is not None and member.member and cache.get(2, 1) is None
    for user in range(3, 7):
        cache.put(user, 1, True)
    assert len(cache) == 3 and cache.get(1, 1) is None  # the least recently used went first
    cache.forget(6, [1])
    assert cache.get(6, 1) is None and cache.get(5, 1) is not None


def test_what_becomes_of_a_user_shown_a_lock():
    assert transition(None, True, shown=True) == "already"
    assert transition(None, False, shown=True) == "shown"
    assert transition("shown", True, shown=True) == "joined"
    assert transition("joined", False, shown=False) == "left"
    assert transition("left", True, shown=False) == "joined"
    assert transition(None, True, shown=False) is None  # a stranger joining: not ours to count
    assert transition("already", False, shown=True) == "shown"


# ---- the prompt and the held link ---------------------------------------------------------------


async def test_a_lock_holds_the_link_until_the_user_joins_and_then_delivers_it_once(world):
    lock = await world.add_lock(CHANNEL)
    await world.say(7, yt(1))
    assert world.jobs(7) == []
    prompt = prompt_of(world, 7)
    assert [b["url"] for b in buttons(prompt) if b.get("url")] == ["https://t.me/gate_sponsor"]
    assert "join" in prompt["text"].lower()
    # The re-check before joining still refuses.
    await world.press(7, check_button(prompt))
    assert world.jobs(7) == []
    [not_yet] = world.answers(7)
    assert CHANNEL in not_yet["text"] and not_yet["alert"]
    # After joining (and JOIN_RECHECK_INTERVAL), the held link is delivered; pressing again changes nothing.
    world.port.join(CHANNEL, 7)
    ahead = time.time() + world.settings.join_recheck_interval
    world.gates.locks.clock = lambda: ahead
    for _ in range(3):
        await world.press(7, check_button(prompt), message_id=55)
    assert world.jobs(7) == [yt(1)]
    answers = [a["text"] for a in world.answers(7)]
    assert answers[1:] == ["✅ Thank you!", "This button has expired.", "This button has expired."]
    edit = world.sent(7, "edit")[-1]
    assert edit["message_id"] == 55 and "on its way" in edit["text"] and not edit.get("keyboard")
    assert figures(world, lock) == {"joined": 1}
    assert world.db.execute("SELECT joins_counted FROM sponsors WHERE id = ?", [lock]).fetchone()[0] == 1


async def test_a_second_link_while_the_prompt_is_fresh_is_held_silently_and_both_come_together(world):
    await world.add_lock(CHANNEL)
    await world.say(7, yt(1))
    await world.say(7, yt(2))
    assert len([t for t in world.texts(7) if "join" in t.lower()]) == 1  # one prompt, not two
    world.port.join(CHANNEL, 7)
    world.gates.locks.cache.forget(7, [1])  # the 30 s a non-member is trusted have passed
    await world.say(7, yt(3))  # passing with a new link releases the held ones first
    assert world.jobs(7) == [yt(1), yt(2), yt(3)]


async def test_a_user_already_in_the_channel_passes_and_counts_as_already_a_member(world):
    lock = await world.add_lock(CHANNEL)
    world.port.join(CHANNEL, 8)
    await world.say(8, yt(1))
    assert world.jobs(8) == [yt(1)]
    assert figures(world, lock) == {"already": 1}
    assert world.db.execute("SELECT joins_counted FROM sponsors").fetchone()[0] == 0


async def test_a_held_link_survives_a_restart_of_the_gateway(tmp_path):
    first = World(tmp_path)
    await first.add_lock(CHANNEL)
    await first.say(7, yt(1))
    prompt = prompt_of(first, 7)
    first.close()
    again = World(tmp_path)  # a new process: empty cache, the same file
    try:
        again.port.join(CHANNEL, 7)
        await again.press(7, check_button(prompt))
        assert again.jobs(7) == [yt(1)]
    finally:
        again.close()


# ---- the cache ----------------------------------------------------------------------------------


async def test_fifty_messages_from_a_verified_user_ask_telegram_once(world):
    for n in range(5):
        await world.add_lock(f"@gate_lock{n}")
        world.port.join(f"@gate_lock{n}", 9)
    for n in range(50):
        await world.say(9, yt(n) if n % 2 else "hello")
    assert sum(world.port.calls.values()) - 5 == 5  # one per lock (the 5 others were /addsponsor's checks)
    assert len(world.jobs(9)) == world.settings.user_requests_per_min


async def test_a_non_member_is_asked_again_only_after_the_short_ttl(world):
    await world.add_lock(CHANNEL)
    calls = world.port.calls[CHANNEL]
    await world.say(7, yt(1))
    await world.say(7, yt(2))
    assert world.port.calls[CHANNEL] - calls == 1
    world.gates.locks.cache.forget(7, [1])  # as if NONMEMBER_CACHE_TTL had passed
    await world.say(7, yt(3))
    assert world.port.calls[CHANNEL] - calls == 2


async def test_chat_member_updates_credit_the_join_and_see_the_user_leave(world):
    lock = await world.add_lock(CHANNEL)
    await world.say(7, yt(1))
    await world.member_update(-1001, "gate_sponsor", 7, "left", "member")
    assert figures(world, lock) == {"joined": 1}
    calls = world.port.calls[CHANNEL]
    await world.say(7, yt(2))  # the update said member: no question, and the held link goes first
    assert world.port.calls[CHANNEL] == calls
    assert world.jobs(7) == [yt(1), yt(2)]
    await world.member_update(-1001, "gate_sponsor", 7, "member", "left")
    assert figures(world, lock) == {"left": 1}
    assert world.db.execute("SELECT chat_id FROM sponsors WHERE id = ?", [lock]).fetchone()[0] == -1001
    await world.member_update(-1001, "gate_sponsor", 7, "left", "member")  # back again: not a second join
    assert world.db.execute("SELECT joins_counted FROM sponsors").fetchone()[0] == 1


# ---- ends and breakage --------------------------------------------------------------------------


async def test_a_lock_ends_at_its_cap_and_the_admins_are_told(world):
    lock = await world.add_lock(CHANNEL, "1")
    await world.say(7, yt(1))
    world.port.join(CHANNEL, 7)
    await world.press(7, check_button(prompt_of(world, 7)))
    row = world.db.execute("SELECT active, end_reason, joins_counted FROM sponsors WHERE id = ?", [lock]).fetchone()
    assert tuple(row) == (0, "cap", 1)
    assert any("@gate_sponsor ended: it reached its cap of 1 joins" in t for t in world.texts(ADMIN))
    await world.say(8, yt(2))  # the next user is not asked to join an ended lock
    assert world.jobs(8) == [yt(2)]


async def test_a_lock_ends_at_its_date_and_the_admins_are_told(world):
    lock = await world.add_lock(CHANNEL, "0", "1h")
    ends = world.db.execute("SELECT expires_at FROM sponsors WHERE id = ?", [lock]).fetchone()[0]
    assert ends == pytest.approx(time.time() + 3600, abs=60)
    world.db.execute("UPDATE sponsors SET expires_at = ? WHERE id = ?", [time.time() - 1, lock])
    world.gates.locks.stale = True
    world.gates.sweep()
    assert world.db.execute("SELECT end_reason FROM sponsors WHERE id = ?", [lock]).fetchone()[0] == "expired"
    assert any("@gate_sponsor ended: its time is up" in t for t in world.texts(ADMIN))
    await world.say(7, yt(1))
    assert world.jobs(7) == [yt(1)]


async def test_a_lock_the_bot_cannot_check_is_skipped_and_alerted_once(world):
    world.port.broken.add("@gate_hidden")
    await world.add_lock("@gate_hidden")
    assert any("can't check" in t for t in world.texts(ADMIN))  # the admin's reply (en)
    alerts = [t for t in world.texts(ADMIN) if t.startswith("⚠️ Lock #1 @gate_hidden: I can't check")]
    assert len(alerts) == 1
    for user in (7, 8):
        await world.say(user, yt(user))
        assert world.jobs(user) == [yt(user)]
    assert world.port.calls["@gate_hidden"] == 1  # skipped: not asked again for every user


async def test_a_lock_that_breaks_later_is_skipped_from_then_on_and_alerted_once(world):
    await world.add_lock(CHANNEL)
    world.port.broken.add(CHANNEL)  # the bot lost its admin rights
    await world.say(7, yt(1))
    await world.say(8, yt(2))
    assert world.jobs(7) == [yt(1)] and world.jobs(8) == [yt(2)]
    assert len([t for t in world.texts(ADMIN) if t.startswith("⚠️ Lock #1 @gate_sponsor: I can't check")]) == 1
    assert world.db.execute("SELECT unchecked_at IS NOT NULL FROM sponsors").fetchone()[0] == 1


async def test_a_forged_join_button_is_expired_and_delivers_nothing(world, tmp_path):
    await world.add_lock(CHANNEL)
    await world.say(7, yt(1))
    world.port.join(CHANNEL, 7)
    held = world.db.execute("SELECT id FROM held_links").fetchone()[0]
    forged = CallbackCodec(b"another key" * 3).encode("j", held)
    await world.press(7, forged)
    await world.say(8, "hi")
    await world.press(8, world.codec.encode("j", held))  # someone else's held link
    assert world.jobs(7) == [] and world.jobs(8) == []
    assert [a["text"] for a in world.answers(7) + world.answers(8)] == ["This button has expired."] * 2
