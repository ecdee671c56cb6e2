"""The database under load: 1,000 users at once for a minute against `run.py --sandbox --workers 2`,
Telegram's limits off (the sandbox's and the bot's own send budget), then kill -9 of every process
with writes in flight.

    .venv/bin/python bench/bench_db_load.py [--users 1000] [--seconds 60] [--interval 10]
        [--fresh-share 0.05] [--seed N]

Each user writes every `--interval` seconds (a cached link, a fresh small link, /start, /settings
or Persian chatter; `tests/e2e/db_load.py` says which and why). Printed: the gateway's update
latency (a user's message to the bot's first answer, the sandbox's clock) p50 and p99, the
messages left unanswered, how many log lines say "database is locked" (goal 0), and
`PRAGMA integrity_check` of each database after the kill (goal ok). Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import machine_speed  # noqa: E402
from tests.e2e import db_load  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402


async def run(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcess(Path(tmp), env=db_load.ENV, workers=2)
        try:
            print(f"machine speed: a fixed Python loop takes {machine_speed():.1f} ms (lower is faster)")
            figures = await db_load.run_load(bot, args.users, args.seconds, args.interval, args.fresh_share, args.seed)
        finally:
            bot.stop()
    offered = args.users / args.interval
    print(f"{args.users} users for {args.seconds:g} s, one message each every {args.interval:g} s "
          f"({offered:.0f} messages/s offered, seed {args.seed}), --workers 2, limits off:")  # fmt: skip
    print(f"    {figures.sent} messages, {len(figures.unanswered)} unanswered")
    print(f"    update latency, message to first answer: p50 {figures.p(50) * 1000:.0f} ms, "
          f"p99 {figures.p(99) * 1000:.0f} ms, max {figures.p(100) * 1000:.0f} ms")  # fmt: skip
    print(f'    "database is locked" in the logs: {len(figures.locked)} (goal 0)')
    for line in figures.locked[:10]:
        print(f"        {line}")
    shown = ", ".join(f"{name} {result}" for name, result in sorted(figures.integrity.items()))
    print(f"    integrity_check after kill -9 of every process: {shown} (goal ok)")
    return not figures.locked and not figures.unanswered and set(figures.integrity.values()) == {"ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between one user's messages")
    parser.add_argument("--fresh-share", type=float, default=0.05, help="share of messages that are new downloads")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    ok = trio.run(run, parser.parse_args())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
