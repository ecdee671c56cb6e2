"""Telegram's send limits: a 429 with an honest retry_after past them, never one below them."""

from __future__ import annotations

import trio

from core.config import Settings
from sandbox.limits import Refusal, SendLimiter
from sandbox.live_config import LiveConfig
from tests.sandbox.support import Api


async def _sends(api: Api, chat_id: int | str, n: int) -> list[tuple[int, dict]]:
    return [await api.call("sendMessage", chat_id=chat_id, text=f"m{i}") for i in range(n)]


async def test_private_chat_burst_then_429_then_allowed_after_retry_after(api: Api):
    await api.config(chat_rate=1.0, chat_burst=3)
    await api.say(1, "hi")
    results = await _sends(api, 1, 4)
    assert [status for status, _ in results] == [200, 200, 200, 429]
    assert results[3][1] == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    await trio.sleep(results[3][1]["parameters"]["retry_after"])  # doing what Telegram asked
    assert (await api.call("sendMessage", chat_id=1, text="after the wait"))[0] == 200
    stats = await api.stats()
    assert stats["flood_waits"] == 1 and stats["responses"]["429"] == 1


async def test_sending_at_the_allowed_pace_is_never_refused(api: Api):
    rate = 20.0
    await api.config(chat_rate=rate, chat_burst=2)
    await api.say(1, "hi")
    statuses = [s for s, _ in await _sends(api, 1, 2)]  # the burst
    start = trio.current_time()
    for i in range(15):
        await trio.sleep_until(start + (i + 1) * 1.05 / rate)  # a pace just under the limit
        statuses.append((await api.call("sendMessage", chat_id=1, text="paced"))[0])
    assert statuses == [200] * 17
    assert (await api.stats())["flood_waits"] == 0


async def test_group_limit_per_minute_with_an_honest_retry_after(api: Api):
    await api.config(group_per_min=3)
    await api.channel("@busy")
    results = await _sends(api, "@busy", 4)
    assert [s for s, _ in results] == [200, 200, 200, 429]
    retry = results[3][1]["parameters"]["retry_after"]
    assert 19 <= retry <= 20  # one token of 3/min comes back after 20 s
    assert results[3][1]["description"] == f"Too Many Requests: retry after {retry}"


async def test_bot_wide_limit_across_chats(api: Api):
    await api.config(bot_rate=4, chat_burst=100, chat_rate=100)
    for user in range(1, 6):
        await api.say(user, "hi")
    statuses = [(await api.call("sendMessage", chat_id=user, text="x"))[0] for user in range(1, 6)]
    assert statuses == [200, 200, 200, 200, 429]


async def test_edits_count_like_sends(api: Api):
    await api.config(chat_rate=0.5, chat_burst=2)
    await api.say(1, "hi")
    mid = (await api.ok("sendMessage", chat_id=1, text="0%"))["message_id"]
    assert (await api.call("editMessageText", chat_id=1, message_id=mid, text="50%"))[0] == 200
    status, body = await api.call("editMessageText", chat_id=1, message_id=mid, text="100%")
    assert status == 429 and body["parameters"]["retry_after"] == 2  # 1 token at 0.5/s


async def test_limits_off_means_no_429_and_peak_rate_is_measured(api: Api):
    await api.config(limits=False)
    await api.say(1, "hi")
    assert {s for s, _ in await _sends(api, 1, 40)} == {200}
    stats = await api.stats()
    assert stats["flood_waits"] == 0 and stats["sends"] == 40
    assert 2 <= stats["peak_send_rate"] <= 40
    back_on = await api.config(limits=True)
    assert back_on["limits"] is True
    assert (await api.call("sendMessage", chat_id=1, text="x"))[0] == 200  # new rates start with full buckets


def test_steady_senders_at_the_limit_are_never_refused_fake_clock():
    """30 chats sending one message per second each: the bot sends 30/s, every chat 1/s."""
    limiter = SendLimiter(
        LiveConfig.from_settings(Settings(sandbox_bot_rate=30, sandbox_chat_rate=1, sandbox_chat_burst=3))
    )
    for second in range(120):
        for chat in range(30):
            assert limiter.admit(chat, True, second + chat / 32) is None, (second, chat)  # exact binary times
    assert limiter.peak == 30


def test_a_greedy_sender_is_held_to_the_rate_and_retry_after_is_enough_fake_clock():
    limiter = SendLimiter(
        LiveConfig.from_settings(Settings(sandbox_bot_rate=30, sandbox_chat_rate=1, sandbox_chat_burst=3))
    )
    now, accepted, duration = 0.0, 0, 60.0
    while now < duration:
        refusal = limiter.admit(1, True, now)
        if refusal is None:
            accepted += 1
            now += 0.01
            continue
        assert refusal.retry_after >= 1
        if refusal.retry_after > 1:  # waiting less than asked is refused, waiting as asked is not
            assert limiter.admit(1, True, now + refusal.retry_after - 1) is not None
        now += refusal.retry_after
        assert limiter.admit(1, True, now) is None
        accepted += 1
    assert accepted <= 3 + duration * 1 + 1  # the burst plus one a second


def test_sends_refused_by_a_forced_floods_hold_are_marked_apart_from_the_limits_own():
    config = LiveConfig.from_settings(Settings())
    limiter = SendLimiter(config)
    config.faults.flood_next, config.faults.flood_retry_after = 1, 3
    assert limiter.admit(1, True, 10.0) == Refusal(3, forced=True)
    assert limiter.admit(2, True, 10.1) == Refusal(3, held=True)  # in the hold: any chat
    assert limiter.admit(3, True, 13.0) is None  # the hold is over
    for _ in range(2):
        assert limiter.admit(3, True, 13.0) is None  # the chat's burst of three
    assert limiter.admit(3, True, 13.0) == Refusal(1)  # the limits' own: not held
