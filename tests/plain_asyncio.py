"""Run a plain asyncio library (playwright, python-telegram-bot) from a sync test.

Importing trio_asyncio (the mtproto adapter does) installs its event loop policy for the whole
process; a plain `asyncio.new_event_loop()` then returns a trio-asyncio loop that cannot run
beside pytest-trio. Inside this context the standard policy is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def plain_asyncio() -> Iterator[None]:
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(previous)
