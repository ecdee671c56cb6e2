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
import os
import random
import sys
import tempfile
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import machine_speed  # noqa: E402
from bench.table import result  # noqa: E402
from tests.e2e import db_load  # noqa: E402
from tests.e2e.db_load import ms, pct  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402

WINDOW_S = 10  # the latency is also printed by the window of the load a message was sent in


TABLE_ARGS = ["--users", "1000", "--seconds", "20"]  # `make bench`: 20 s of the full minute


async def run(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcess(Path(tmp), env=db_load.ENV, workers=2)
        try:
            print(f"machine speed: a fixed Python loop takes {machine_speed():.1f} ms (lower is faster); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
            figures = await db_load.run_load(bot, args.users, args.seconds, args.interval, args.fresh_share, args.seed)
        finally:
            bot.stop()
    offered = args.users / args.interval
    print(f"{args.users} users for {args.seconds:g} s, one message each every {args.interval:g} s "
          f"({offered:.0f} messages/s offered, seed {args.seed}), --workers 2, limits off:")  # fmt: skip
    print(f"    {figures.sent} messages, {len(figures.unanswered)} unanswered")
    gateway, chat = figures.gateway, figures.latencies
    print(f"    the gateway's update latency, a message to its answer's outbox row: p50 {ms(gateway, 50)}, "
          f"p99 {ms(gateway, 99)}, max {ms(gateway, 100)} ({len(gateway)} answers)")  # fmt: skip
    print(f"    a message to its first answer in the chat: p50 {ms(chat, 50)}, p99 {ms(chat, 99)}, "
          f"max {ms(chat, 100)}")  # fmt: skip
    windows = sorted({second // WINDOW_S for second in figures.by_second})
    for w in windows:
        took = [t for s, ts in figures.by_second.items() if s // WINDOW_S == w for t in ts]
        print(f"        asked in {w * WINDOW_S:3d}-{(w + 1) * WINDOW_S:3d} s: {len(took):5d} messages, "
              f"p50 {ms(took, 50):>8}, p99 {ms(took, 99):>8}")  # fmt: skip
    for kind, took in sorted(figures.by_kind.items()):
        print(f"        {kind:<12} {len(took):5d} messages, p50 {ms(took, 50):>8}, p99 {ms(took, 99):>8}")
    cpu = ", ".join(f"{name} {spent:.1f}" for name, spent in sorted(figures.cpu.items(), key=lambda kv: -kv[1]))
    print(f"    CPU seconds during the load, by process: {cpu} (this machine has {os.cpu_count()} cores)")
    print(f'    "database is locked" in the logs: {len(figures.locked)} (goal 0)')
    for line in figures.locked[:10]:
        print(f"        {line}")
    shown = ", ".join(f"{name} {result}" for name, result in sorted(figures.integrity.items()))
    print(f"    integrity_check after kill -9 of every process: {shown} (goal ok)")
    if gateway:
        result(f"the gateway's update latency, {args.users} users, p99", pct(gateway, 99) * 1000, "ms", digits=0)
    result('"database is locked" in any log, then integrity_check after kill -9', len(figures.locked), "",
           goal="0, ok", digits=0, note=shown)  # fmt: skip
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
