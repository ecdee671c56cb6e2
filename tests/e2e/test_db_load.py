"""The database under load, short: LOAD_USERS users at once against `run.py --sandbox --workers 2`
(Telegram's limits off) for LOAD_SECONDS, then kill -9 of every process with writes in flight.

- every message got its first answer (no update lost to a lock or a busy database);
- no log line of any process says "database is locked";
- `PRAGMA integrity_check` is ok for the bot's database and each downloader's.

The latency from message to first answer is printed, not asserted (the machine is shared); the
full minute with 1,000 users is `bench/bench_db_load.py`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.e2e import db_load
from tests.support.bot import BotProcess

LOAD_USERS = 300
LOAD_SECONDS = 15.0
INTERVAL_S = 5.0  # each user writes this often: 60 messages a second in all
FRESH_SHARE = 0.05


@pytest.fixture
def loaded_bot(tmp_path) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path, env=db_load.ENV, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


async def test_many_users_at_once_lock_nothing_and_a_kill_of_everything_corrupts_nothing(loaded_bot):
    seed = random.randrange(2**32)
    figures = await db_load.run_load(loaded_bot, LOAD_USERS, LOAD_SECONDS, INTERVAL_S, FRESH_SHARE, seed)
    print(f"\n{LOAD_USERS} users for {LOAD_SECONDS:g} s (seed {seed}): {figures}")
    assert figures.sent == LOAD_USERS * LOAD_SECONDS / INTERVAL_S
    assert not figures.unanswered, f"{len(figures.unanswered)} messages unanswered: {figures.unanswered[:20]}"
    assert not figures.locked, "\n".join(figures.locked[:20])
    assert set(figures.integrity.values()) == {"ok"}, figures.integrity
