"""The send budget against the sandbox with Telegram's limits on (30 sends/s for the bot).

    .venv/bin/python bench/bench_sending.py [--sends 1800] [--files 300]

- sustained sends: `--sends` users each write /start at once, so the welcomes wait for the budget;
  the rate at which they reach the sandbox over the run (goal >= 28.5/s, 95 % of 30), its peak
  in any second (never above 30), and 429s (goal 0);
- files/s: `--files` users each send one small link at once; a delivered file costs three sends
  (the status, the file, the status removed), so the ceiling is 30 / 3 = 10 files/s (goal >= 90 %).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import SEND_CONCURRENCY, files_sent, send_all  # noqa: E402
from bench.loadgen import Poster  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402

HTTP_TIMEOUT_S = 60.0
POLL_S = 0.5
DEADLINE_S = 900.0
LIMIT = 30.0
SENDS_PER_FILE = 3


async def stats(http: httpx.AsyncClient) -> dict:
    return dict((await http.get("/sandbox/stats")).json())


async def until_sends(http: httpx.AsyncClient, target: int) -> list[tuple[float, int]]:
    """(time, sends) samples until the sandbox has counted `target` sends."""
    samples = []
    deadline = trio.current_time() + DEADLINE_S
    while True:
        sends = (await stats(http))["sends"]
        samples.append((time.monotonic(), sends))
        if sends >= target or trio.current_time() > deadline:
            return samples
        await trio.sleep(POLL_S)


def steady_rate(samples: list[tuple[float, int]], first: int, last: int) -> float:
    """Sends/s between the 10 % and the 90 % marks of the run (start-up and the tail left out)."""
    span = last - first
    low = next(s for s in samples if s[1] - first >= span * 0.1)
    high = next(s for s in samples if s[1] - first >= span * 0.9)
    return (high[1] - low[1]) / (high[0] - low[0])


async def sustained(bot: BotProcess, http: httpx.AsyncClient, load: Poster, sends: int) -> None:
    before = await stats(http)
    users = range(500_000, 500_000 + sends)
    await send_all(load, [(u, "/start") for u in users])
    samples = await until_sends(http, before["sends"] + sends)
    after = await stats(http)
    rate = steady_rate(samples, before["sends"], after["sends"])
    print(f"sustained: {sends} welcomes: {rate:.2f} sends/s over the run (goal >= {0.95 * LIMIT:.1f}), "
          f"peak {after['peak_send_rate']}/s, 429s {after['flood_waits'] - before['flood_waits']}")  # fmt: skip


async def files_per_second(bot: BotProcess, http: httpx.AsyncClient, load: Poster, files: int) -> None:
    before_stats = await stats(http)
    before = await files_sent(http)
    users = range(600_000, 600_000 + files)
    began = time.monotonic()
    await send_all(load, [(u, f"{bot.url}/media/blob?size=100000&u={u}") for u in users])
    deadline = time.monotonic() + DEADLINE_S
    while (await files_sent(http)) - before < files and time.monotonic() < deadline:
        await trio.sleep(POLL_S)
    took = time.monotonic() - began
    after = await stats(http)
    ceiling = LIMIT / SENDS_PER_FILE
    rate = files / took
    print(f"files: {files} users, one small link each: {rate:.2f} files/s = {100 * rate / ceiling:.0f} % of "
          f"30/3 (goal >= 90 %), 429s {after['flood_waits'] - before_stats['flood_waits']}")  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcess(Path(tmp), env={"SANDBOX_LIMITS": "1", "LOG_LEVEL": "warning"}, workers=2)
        load = Poster(bot.url, SEND_CONCURRENCY)
        try:
            async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
                if args.sends:
                    await sustained(bot, http, load, args.sends)
                if args.files:
                    await files_per_second(bot, http, load, args.files)
        finally:
            await load.aclose()
            bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=1800, help="welcomes to send (60 s at 30/s)")
    parser.add_argument("--files", type=int, default=300)
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
