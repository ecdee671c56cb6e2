"""Receiving updates in contract tests: poll a port until enough arrived, within a deadline."""

from __future__ import annotations

import trio

from core.telegram.port import IncomingMessage, TelegramPort, Update

POLL = 1.0  # seconds one long poll may wait
DEADLINE = 20.0  # seconds to receive what a test expects


async def receive(port: TelegramPort, count: int, *, confirm: bool = True) -> list[Update]:
    got: list[Update] = []
    with trio.move_on_after(DEADLINE):
        while len(got) < count:
            batch = await port.get_updates(POLL)
            got.extend(batch.updates)
            if confirm:
                await port.confirm(batch)
    assert len(got) >= count, f"expected {count} updates within {DEADLINE}s, got {got}"
    return got


def texts(updates: list[Update]) -> list[str]:
    return [u.text for u in updates if isinstance(u, IncomingMessage)]
