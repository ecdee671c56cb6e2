"""The send budget on scripted loads with trio's autojump clock: every grant replayed against the
sandbox's own limiter (Telegram's buckets and its peak-rate count), priorities, fairness across
chats, thinning of progress edits, FloodWait scopes, cancellation, memory."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from functools import partial

import pytest
import trio

from core.config import Settings, load_settings
from core.outbox import (
    PRIORITIES,
    PRIORITY_ALERT,
    PRIORITY_ANSWER,
    PRIORITY_BROADCAST,
    PRIORITY_FILE,
    PRIORITY_PROGRESS,
    PRIORITY_STATUS,
)
from sandbox.limits import SendLimiter
from sandbox.live_config import LiveConfig
from uploader.throttle import PRUNE_EVERY, STAMP_GUARD_S, SendBudget, Thinned, Unsent

SETTINGS = load_settings(environ={}, env_file=None)
RATE = SETTINGS.tg_global_rate
SLOT = (1.0 + STAMP_GUARD_S) / RATE + 1e-9  # one pacing interval
ADMIN = 42  # the first of the private chats that receive alerts


@dataclass(frozen=True)
class Grant:
    at: float  # when the send was allowed
    chat: int
    priority: int
    arrives: float  # when "Telegram" counts it (== at for an instant send)


@dataclass
class Log:
    t0: float = field(default_factory=trio.current_time)  # times in the log are relative to this
    grants: list[Grant] = field(default_factory=list)
    thinned: list[tuple[float, int]] = field(default_factory=list)

    def of(self, priority: int) -> list[Grant]:
        return [g for g in self.grants if g.priority == priority]


async def send(
    budget: SendBudget, log: Log, chat: int, priority: int, *, at: float = 0.0, max_wait: float | None = None
) -> None:
    await trio.sleep_until(log.t0 + at)
    try:
        await budget.acquire(chat, priority, max_wait=max_wait)
    except Thinned:
        log.thinned.append((trio.current_time() - log.t0, chat))
        return
    now = trio.current_time() - log.t0
    log.grants.append(Grant(now, chat, priority, now))


def replay_at_the_sandbox(grants: list[Grant]) -> SendLimiter:
    """Feed the arrivals to the sandbox's limiter, in order: each must pass, the peak stay at the rate."""
    limiter = SendLimiter(
        LiveConfig.from_settings(
            Settings(
                sandbox_bot_rate=RATE,
                sandbox_chat_rate=SETTINGS.tg_chat_rate,
                sandbox_chat_burst=SETTINGS.tg_chat_burst,
                sandbox_group_per_min=SETTINGS.tg_group_per_min,
            )
        )
    )
    for g in sorted(grants, key=lambda g: g.arrives):
        refusal = limiter.admit(g.chat, g.chat > 0, g.arrives)
        assert refusal is None, f"the sandbox refused a send to chat {g.chat} at {g.arrives:.4f}: {refusal}"
    assert limiter.peak <= RATE, limiter.peak
    return limiter


def rate_between(grants: list[Grant], start: float, end: float) -> float:
    return sum(start <= g.at < end for g in grants) / (end - start)


# ---- the limits ----------------------------------------------------------------------------------


async def test_3000_mixed_sends_across_500_users_are_never_refused(autojump_clock):
    """Users arrive over 20 s; each gets an answer, two progress edits, a file and a done message;
    alerts go to an admin and broadcasts to users and channels: 3,000 sends in all."""
    budget = SendBudget(SETTINGS)
    log = Log()
    rng = random.Random(7)
    users = range(1000, 1500)
    started = time.process_time()

    async def user(uid: int, at: float) -> None:
        await send(budget, log, uid, PRIORITY_ANSWER, at=at)
        await trio.sleep(0.5)
        await send(budget, log, uid, PRIORITY_PROGRESS)
        await trio.sleep(0.5)
        await send(budget, log, uid, PRIORITY_PROGRESS)
        await send(budget, log, uid, PRIORITY_FILE)
        await send(budget, log, uid, PRIORITY_ANSWER)

    async with trio.open_nursery() as nursery:
        for uid in users:
            nursery.start_soon(user, uid, rng.uniform(0, 20))
        for _ in range(250):  # broadcast to users and to channels (20/min each)
            target = rng.choice([*users, -100, -101, -102])
            nursery.start_soon(send, budget, log, target, PRIORITY_BROADCAST)
        for i in range(250):  # alerts to five admins
            nursery.start_soon(send, budget, log, ADMIN + i % 5, PRIORITY_ALERT)
    cpu = time.process_time() - started

    assert len(log.grants) == 3000 and not log.thinned
    replay_at_the_sandbox(log.grants)
    assert budget.stats().waiting == dict.fromkeys(PRIORITIES, 0)
    print(f"3000 sends: last at {max(g.at for g in log.grants):.1f} s virtual, {cpu:.2f} s CPU")


async def test_sends_that_take_time_are_counted_whenever_telegram_sees_them(autojump_clock):
    """`sending()` holds the slot until the call returns; Telegram may count the send at any moment
    in between (a slow upload, a stalled process): the sandbox still refuses nothing."""
    budget = SendBudget(SETTINGS)
    log = Log()
    rng = random.Random(11)

    async def call(chat: int, priority: int, at: float) -> None:
        await trio.sleep_until(at)
        async with budget.sending(chat, priority):
            granted = trio.current_time()
            latency = rng.choice([0.0, 0.005, 0.05, rng.uniform(0, 0.4), rng.uniform(1, 8)])
            await trio.sleep(latency)
            arrives = rng.choice([granted, granted + latency, rng.uniform(granted, granted + latency)])
        log.grants.append(Grant(granted, chat, priority, arrives))

    async with trio.open_nursery() as nursery:
        for _ in range(1500):
            chat = rng.choice([*range(1, 200), -7, -8])
            priority = rng.choice([PRIORITY_ANSWER, PRIORITY_FILE, PRIORITY_PROGRESS, PRIORITY_BROADCAST])
            nursery.start_soon(call, chat, priority, rng.uniform(0, 30))

    assert len(log.grants) == 1500
    replay_at_the_sandbox(log.grants)
    assert budget.stats().in_flight == 0


async def test_a_long_steady_load_gets_at_least_95_percent_of_the_rate(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()

    async def busy_chat(chat: int) -> None:
        while trio.current_time() < 70:
            await send(budget, log, chat, PRIORITY_FILE if chat % 3 else PRIORITY_ANSWER)

    async with trio.open_nursery() as nursery:
        for chat in range(1, 101):  # 100 chats at 1/s each ask for far more than the bot's rate
            nursery.start_soon(busy_chat, chat)

    steady = sorted(g.at for g in log.grants if 10 <= g.at < 70)
    sustained = (len(steady) - 1) / (steady[-1] - steady[0])
    print(f"sustained {sustained:.3f}/s = {sustained / RATE:.2%} of TG_GLOBAL_RATE {RATE:g}")
    assert sustained >= 0.95 * RATE
    replay_at_the_sandbox(log.grants)


async def test_a_group_gets_its_per_minute_budget_and_a_private_chat_its_burst(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for _ in range(30):
            nursery.start_soon(send, budget, log, -500, PRIORITY_ANSWER)
        for _ in range(6):
            nursery.start_soon(send, budget, log, 500, PRIORITY_ANSWER)
    group = sorted(g.at for g in log.grants if g.chat == -500)
    private = sorted(g.at for g in log.grants if g.chat == 500)
    per_min = SETTINGS.tg_group_per_min
    # A minute's worth at the global pace, then one per 60/per_min s (the bucket refilling).
    assert group[per_min - 1] < 2.0 and 60 / per_min <= group[per_min] <= 60 / per_min + 3 * SLOT
    burst = SETTINGS.tg_chat_burst
    assert private[burst - 1] < 0.5
    assert 1 / SETTINGS.tg_chat_rate <= private[burst] <= 1 / SETTINGS.tg_chat_rate + 3 * SLOT
    replay_at_the_sandbox(log.grants)


# ---- priorities and fairness ---------------------------------------------------------------------


async def test_an_answer_arriving_in_a_saturated_budget_waits_about_one_slot(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for chat in range(1, 61):  # 60 chats of progress and 60 channels of broadcast: 80/s wanted
            for _ in range(15):
                nursery.start_soon(send, budget, log, chat, PRIORITY_PROGRESS)
        for chat in range(-60, 0):
            for _ in range(15):
                nursery.start_soon(send, budget, log, chat, PRIORITY_BROADCAST)
        for i in range(20):
            nursery.start_soon(partial(send, budget, log, 9000 + i, PRIORITY_ANSWER, at=5.0137 + i * 0.26))

    answers = sorted(log.of(PRIORITY_ANSWER), key=lambda g: g.chat)
    waits = [g.at - (5.0137 + i * 0.26) for i, g in enumerate(answers)]
    assert len(waits) == 20 and max(waits) <= SLOT, (max(waits), SLOT)
    during = [g for g in log.grants if 5 <= g.at < 10]
    assert rate_between(during, 5, 10) >= 0.95 * RATE  # saturated all along
    # Progress wanted more than the whole budget then: broadcast got nothing.
    assert not [g for g in during if g.priority == PRIORITY_BROADCAST]
    replay_at_the_sandbox(log.grants)


async def test_broadcast_takes_only_the_budget_nobody_else_wants(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    asked: dict[int, list[float]] = {}

    async def user(chat: int) -> None:  # 10 users keep asking at their chat's 1/s
        for i in range(20):
            at = 1.0 + i * 1.0 + chat * 0.1
            asked.setdefault(chat, []).append(at)
            await send(budget, log, chat, PRIORITY_ANSWER, at=at)

    async with trio.open_nursery() as nursery:
        for chat in range(-300, 0):
            nursery.start_soon(send, budget, log, chat, PRIORITY_BROADCAST)
            nursery.start_soon(send, budget, log, chat, PRIORITY_BROADCAST)
        for chat in range(1, 11):
            nursery.start_soon(user, chat)

    answers = log.of(PRIORITY_ANSWER)
    assert len(answers) == 200
    for chat in range(1, 11):
        granted = sorted(g.at for g in answers if g.chat == chat)
        assert max(g - a for g, a in zip(granted, asked[chat], strict=True)) <= SLOT
    broadcast_rate = rate_between(log.of(PRIORITY_BROADCAST), 2, 20)
    assert broadcast_rate == pytest.approx(RATE - 10, rel=0.05)  # the rest of the budget, not less
    replay_at_the_sandbox(log.grants)


async def test_a_light_user_is_served_before_a_heavy_users_second_file(autojump_clock):
    """Fairness only matters while sends wait, so the budget is kept busy by broadcast; the heavy
    user's chat window is open (a burst of 3), so only round-robin puts the light user first."""
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for chat in range(-200, 0):
            nursery.start_soon(send, budget, log, chat, PRIORITY_BROADCAST)
        for _ in range(10):
            nursery.start_soon(partial(send, budget, log, 1, PRIORITY_FILE, at=2.0))
        nursery.start_soon(partial(send, budget, log, 2, PRIORITY_FILE, at=2.0001))
    files = [g.chat for g in sorted(log.of(PRIORITY_FILE), key=lambda g: g.at)]
    assert files[:4] == [1, 2, 1, 1], files  # then the heavy user's burst is spent


async def test_many_heavy_users_do_not_starve_a_late_light_one(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for chat in range(1, 51):  # 50 users with 10 files each: 500 files at 30/s
            for _ in range(10):
                nursery.start_soon(send, budget, log, chat, PRIORITY_FILE)
        nursery.start_soon(partial(send, budget, log, 999, PRIORITY_FILE, at=3.0))
    light = next(g for g in log.grants if g.chat == 999)
    # Within one round of the chats that could send: their windows give at most 50 grants/s.
    assert light.at - 3.0 <= 2.0, light
    assert light.at < max(g.at for g in log.grants) - 10  # long before the heavy queues end


# ---- thinning --------------------------------------------------------------------------------


async def files_with_progress(progress_chats: int) -> Log:
    budget = SendBudget(SETTINGS)
    log = Log()

    async def progress(chat: int) -> None:
        for i in range(10):
            await send(budget, log, chat, PRIORITY_PROGRESS, at=0.5 + i * 1.0 + chat * 1e-4, max_wait=2.0)

    async with trio.open_nursery() as nursery:
        for chat in range(1, 41):  # 40 users with 6 files each: 40/s wanted, more than the bot's 30
            for k in range(6):  # each send its own arrival time, so that both runs queue alike
                nursery.start_soon(partial(send, budget, log, chat, PRIORITY_FILE, at=(chat * 6 + k) * 1e-5))
        for chat in range(1001, 1001 + progress_chats):
            nursery.start_soon(progress, chat)
    replay_at_the_sandbox(log.grants)
    return log


async def test_progress_edits_are_thinned_under_load_and_files_are_not_delayed(autojump_clock):
    alone = await files_with_progress(0)
    loaded = await files_with_progress(20)
    files_alone = sorted((g.at, g.chat) for g in alone.of(PRIORITY_FILE))
    files_loaded = sorted((g.at, g.chat) for g in loaded.of(PRIORITY_FILE))
    # The very same grants at the very same times (to float rounding: the runs start at other times).
    assert [c for _, c in files_loaded] == [c for _, c in files_alone]
    assert [t for t, _ in files_loaded] == pytest.approx([t for t, _ in files_alone], abs=1e-9)
    end_of_files = files_alone[-1][0]
    thinned_during = [t for t, _ in loaded.thinned if t < end_of_files]
    sent_during = [g for g in loaded.of(PRIORITY_PROGRESS) if g.at < end_of_files]
    assert len(thinned_during) > 10 * len(sent_during), (len(thinned_during), len(sent_during))
    # Once the files are out, progress edits go through again.
    assert [g for g in loaded.of(PRIORITY_PROGRESS) if g.at > end_of_files + 2]


async def test_progress_edits_are_sent_when_the_budget_has_room(autojump_clock):
    log = Log()
    budget = SendBudget(SETTINGS)
    async with trio.open_nursery() as nursery:
        for chat in range(1, 21):
            for i in range(5):
                nursery.start_soon(partial(send, budget, log, chat, PRIORITY_PROGRESS, at=i * 4.0, max_wait=2.0))
    assert len(log.grants) == 100 and not log.thinned


async def test_progress_leaves_the_chats_last_token_to_its_file(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(send, budget, log, 1, PRIORITY_PROGRESS)
        nursery.start_soon(partial(send, budget, log, 1, PRIORITY_FILE, at=0.1))
    file = log.of(PRIORITY_FILE)[0]
    assert file.at == pytest.approx(0.1)  # the burst's last token was still there
    assert sorted(g.at for g in log.of(PRIORITY_PROGRESS))[-1] >= 1.0  # the third edit waited


async def test_thin_drops_a_chats_waiting_progress_edits(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(send, budget, log, 1, PRIORITY_PROGRESS)
        await trio.sleep(0.5)
        assert budget.stats().waiting[PRIORITY_PROGRESS] == 3  # two went; the last token is kept for a file
        assert budget.thin(1) == 3
    assert len(log.thinned) == 3 and budget.stats().waiting[PRIORITY_PROGRESS] == 0


# ---- FloodWait -------------------------------------------------------------------------------


async def test_a_chat_flood_wait_pauses_only_that_chat_for_exactly_the_seconds(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    await budget.acquire(1, PRIORITY_ANSWER)
    budget.flood(1, 5.0, "chat")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send, budget, log, 1, PRIORITY_ANSWER)
        nursery.start_soon(send, budget, log, 2, PRIORITY_ANSWER)
    first = {g.chat: g.at for g in log.grants}
    assert first[2] <= SLOT  # the next paced slot
    assert first[1] == pytest.approx(5.0, abs=1e-6)


async def test_a_global_flood_wait_pauses_everything_then_sends_all(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    await budget.acquire(1, PRIORITY_ANSWER)
    budget.flood(1, 7.0, "global")
    assert budget.stats().paused_for == pytest.approx(7.0)
    async with trio.open_nursery() as nursery:
        for chat in range(1, 101):
            nursery.start_soon(send, budget, log, chat, PRIORITY_ANSWER)
            nursery.start_soon(send, budget, log, chat, PRIORITY_BROADCAST)
    assert len(log.grants) == 200  # nothing dropped
    assert min(g.at for g in log.grants) == pytest.approx(7.0, abs=1e-6)
    replay_at_the_sandbox(log.grants)


# ---- cancellation and bookkeeping ------------------------------------------------------------


async def test_a_cancelled_waiter_leaves_no_trace(autojump_clock):
    budget = SendBudget(load_settings(environ={"TG_GLOBAL_RATE": "2"}, env_file=None))
    interval = (1.0 + STAMP_GUARD_S) / 2  # the pacer's
    log = Log()
    gone = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        for chat in (1, 2):
            nursery.start_soon(partial(send, budget, log, chat, PRIORITY_ANSWER, at=chat * 1e-4))
        nursery.start_soon(_cancellable, budget, 3, gone, 3e-4)
        nursery.start_soon(partial(send, budget, log, 4, PRIORITY_ANSWER, at=4e-4))
        await trio.sleep(0.8)  # 1 and 2 are out; 3 is next, then 4
        assert budget.stats().waiting[PRIORITY_ANSWER] == 2
        gone.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert budget.stats().waiting[PRIORITY_ANSWER] == 1
    granted = {g.chat: g.at for g in log.grants}
    assert set(granted) == {1, 2, 4}
    window_frees = 1e-4 + STAMP_GUARD_S + 1.0  # chat 1's send leaves the window
    assert granted[4] == pytest.approx(max(2 * interval, window_frees), abs=1e-6)  # chat 3's slot, not lost


async def _cancellable(budget: SendBudget, chat: int, scope: trio.CancelScope, at: float = 0.0) -> None:
    await trio.sleep_until(at)
    with scope:
        await budget.acquire(chat, PRIORITY_ANSWER)
        raise AssertionError("a cancelled waiter was granted")


async def test_a_waiter_cancelled_as_it_is_granted_gives_the_slot_back(mock_clock):
    """The cancellation wakes chat 3 (with Cancelled) and, before it runs, a new send's arrival
    grants it the slot that just came due: the slot must go on to the next waiter, chat 4."""
    budget = SendBudget(load_settings(environ={"TG_GLOBAL_RATE": "2"}, env_file=None))
    log = Log()
    gone = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        await budget.acquire(1, PRIORITY_ANSWER)  # the next slot is half a second away
        nursery.start_soon(_cancellable, budget, 3, gone)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(send, budget, log, 4, PRIORITY_ANSWER)
        await trio.testing.wait_all_tasks_blocked()
        assert budget.stats().waiting[PRIORITY_ANSWER] == 2
        mock_clock.jump(0.6)  # the slot is due; nobody has looked yet
        gone.cancel()
        with pytest.raises(Thinned):  # arriving, it grants chat 3 first (an answer beats it)
            await budget.acquire(5, PRIORITY_BROADCAST, max_wait=0)
        await trio.testing.wait_all_tasks_blocked()
        # Checked inside the nursery: on a clock that only moves when told, a lost slot would hang.
        assert [(g.chat, g.at) for g in log.grants] == [(4, pytest.approx(0.6))]
        stats = budget.stats()
        assert stats.granted == 2 and stats.in_flight == 0 and sum(stats.waiting.values()) == 0


async def test_idle_chats_are_forgotten(autojump_clock):
    budget = SendBudget(SETTINGS)
    for chat in range(1, PRUNE_EVERY + 1):
        await budget.acquire(chat, PRIORITY_ANSWER)
    await trio.sleep(10)  # every bucket refills
    for chat in range(PRUNE_EVERY + 1, 2 * PRUNE_EVERY + 1):
        await budget.acquire(chat, PRIORITY_ANSWER)
    assert budget.stats().tracked_chats <= PRUNE_EVERY


async def test_stats_count_waiters_and_the_last_seconds_sends(autojump_clock):
    budget = SendBudget(SETTINGS)
    log = Log()
    async with trio.open_nursery() as nursery:
        for chat in range(1, 101):  # the files first, then (a moment later) the broadcast
            priority, at = (PRIORITY_FILE, 0.0) if chat % 2 else (PRIORITY_BROADCAST, 1e-4)
            nursery.start_soon(partial(send, budget, log, chat, priority, at=at))
        await trio.sleep(0.5)
        stats = budget.stats()
        assert stats.sends_last_second == stats.granted <= RATE
        assert sum(stats.waiting.values()) == 100 - stats.granted
        assert stats.waiting[PRIORITY_BROADCAST] == 50 and not log.of(PRIORITY_BROADCAST)  # files first
    assert budget.stats().granted == 100
    await trio.sleep(0.5)
    last_second = [g for g in log.grants if g.at + STAMP_GUARD_S > trio.current_time() - 1]
    assert budget.stats().sends_last_second == len(last_second) > 0


async def test_unknown_priority_is_refused(autojump_clock):
    with pytest.raises(ValueError):
        await SendBudget(SETTINGS).acquire(1, 9)


async def test_a_grant_given_back_unsent_goes_to_the_next_waiter_and_counts_for_nothing(autojump_clock):
    """A quiet status found moot once granted raises Unsent: its slot is not spent."""
    budget = SendBudget(SETTINGS)
    for _ in range(3):
        with pytest.raises(Unsent):
            async with budget.sending(1, PRIORITY_STATUS):
                raise Unsent
    assert budget.stats().granted == 0 and budget.stats().sends_last_second == 0
    began = trio.current_time()
    async with budget.sending(2, PRIORITY_ANSWER):
        pass
    assert trio.current_time() - began < SLOT  # no pacing interval was used up by the moot ones
