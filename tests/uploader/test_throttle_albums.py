"""The send budget counts an album as its items (Telegram does): a scripted load of albums and
single sends, with trio's autojump clock, replayed against the sandbox's own limiter, which
counts an album of N as N and lets a chat's bucket go into debt for it."""

from __future__ import annotations

import random

import pytest
import trio

from core.config import Settings, load_settings
from core.outbox import PRIORITY_ANSWER, PRIORITY_FILE
from sandbox.limits import SendLimiter
from sandbox.live_config import LiveConfig
from uploader.throttle import SendBudget

SETTINGS = load_settings(environ={}, env_file=None)
RATE = SETTINGS.tg_global_rate
TRANSFER_S = 0.05  # how long each call takes ("Telegram" counts it when it returns)


def limiter() -> SendLimiter:
    return SendLimiter(
        LiveConfig.from_settings(
            Settings(
                sandbox_bot_rate=RATE,
                sandbox_chat_rate=SETTINGS.tg_chat_rate,
                sandbox_chat_burst=SETTINGS.tg_chat_burst,
                sandbox_group_per_min=SETTINGS.tg_group_per_min,
            )
        )
    )


async def _load(budget: SendBudget, sends: list[tuple[float, int, int, int]]) -> list[tuple[float, int, int]]:
    """Run (start, chat, priority, items) sends; return (arrival, chat, items) of each."""
    t0 = trio.current_time()
    arrivals: list[tuple[float, int, int]] = []

    async def one(at: float, chat: int, priority: int, count: int) -> None:
        await trio.sleep_until(t0 + at)
        async with budget.sending(chat, priority, count=count):
            await trio.sleep(TRANSFER_S)
        arrivals.append((trio.current_time() - t0, chat, count))

    async with trio.open_nursery() as nursery:
        for send in sends:
            nursery.start_soon(one, *send)
    return arrivals


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_albums_count_their_items_and_the_sandbox_never_refuses(
    autojump_clock: trio.abc.Clock, seed: int
) -> None:
    rng = random.Random(seed)
    sends = []
    for _ in range(120):
        chat = rng.randrange(1, 25)
        count = rng.choice([1, 1, 2, 4, 10])
        sends.append((rng.uniform(0, 5), chat, PRIORITY_FILE if count > 1 else PRIORITY_ANSWER, count))
    arrivals = await _load(SendBudget(SETTINGS), sends)
    assert len(arrivals) == len(sends)
    sandbox = limiter()
    for at, chat, count in sorted(arrivals):
        refusal = sandbox.admit(chat, True, at, count)
        assert refusal is None, f"the sandbox refused an album of {count} to chat {chat} at {at:.3f}: {refusal}"
    assert sandbox.peak <= RATE, sandbox.peak
    items = sum(count for _, _, count in arrivals)
    span = max(at for at, _, _ in arrivals)
    # The work is bounded by the items, not the calls: at 30 items/s it takes at least this long.
    assert span >= (items - RATE) / RATE, (items, span)


async def test_one_chats_albums_wait_to_pay_back_their_debt(autojump_clock: trio.abc.Clock) -> None:
    """Two albums of 10 to one private chat: the second waits until the first is paid back."""
    arrivals = await _load(SendBudget(SETTINGS), [(0.0, 7, PRIORITY_FILE, 10), (0.0, 7, PRIORITY_FILE, 10)])
    first, second = sorted(at for at, _, _ in arrivals)
    debt = 10 - SETTINGS.tg_chat_burst  # the first album leaves the bucket this far below zero
    refill_to_burst = (debt + SETTINGS.tg_chat_burst) / SETTINGS.tg_chat_rate
    assert second - first >= refill_to_burst - TRANSFER_S, (first, second)
