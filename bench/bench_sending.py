"""The send budget against the sandbox with Telegram's limits on (30 sends/s for the bot).

    .venv/bin/python bench/bench_sending.py [--sends 1800] [--files 300]

- sustained sends: `--sends` users each write /start at once, so the welcomes wait for the budget;
  the rate at which they reach the sandbox over the run (goal >= 28.5/s, 95 % of 30), its peak
  in any second (never above 30), and 429s (goal 0);
- files/s: `--files` users each send one small (quick) link at once: the files/s from the first
  link to the last file (goal >= 20), and the sends each file cost, edits and deletes included
  (goal <= 1.3). A quick job sends no status (STATUS_DELAY_S), and a status that comes due while
  files wait for the budget gives way to them, so a file costs about one send and the ceiling is
  30 files/s; before, each cost three (the status, the file, the status removed): 3.00 sends per
  file and 8.6-9.7 files/s.
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

from bench.bench_pipeline import SEND_CONCURRENCY, files_sent, machine_speed, send_all  # noqa: E402
from bench.loadgen import Poster  # noqa: E402
from bench.table import result  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402

HTTP_TIMEOUT_S = 60.0
POLL_S = 0.5
DEADLINE_S = 900.0
OUTBOX_BUSY = "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
LIMIT = 30.0
TABLE_ARGS = ["--sends", "900"]  # `make bench`: 30 s of welcomes, then the 300 files


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
    floods = after["flood_waits"] - before["flood_waits"]
    print(f"sustained: {sends} welcomes: {rate:.2f} sends/s over the run (goal >= {0.95 * LIMIT:.1f}), "
          f"peak {after['peak_send_rate']}/s, 429s {floods}")  # fmt: skip
    result(f"sustained sends against the sandbox's 30/s ({sends} welcomes)", rate, "sends/s", goal=">= 28.5/s")
    result("peak sends in any second (sandbox limits on)", after["peak_send_rate"], "/s", goal="<= 30", digits=0)
    result("429s while sending at the ceiling", floods, "", goal="0", digits=0)


async def files_per_second(bot: BotProcess, http: httpx.AsyncClient, load: Poster, files: int, budget: float) -> None:
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
    settle_by = time.monotonic() + DEADLINE_S  # the deletes of statuses, behind the files, count too
    while bot.query(OUTBOX_BUSY)[0][0] and time.monotonic() < settle_by:
        await trio.sleep(POLL_S)
    settled = await stats(http)
    rate = files / took
    deletes = settled["requests"].get("deleteMessage", 0) - before_stats["requests"].get("deleteMessage", 0)
    per_file = (settled["sends"] - before_stats["sends"] + deletes) / files  # a delete costs a send too
    texts = settled["requests"].get("sendMessage", 0) - before_stats["requests"].get("sendMessage", 0)
    floods = after["flood_waits"] - before_stats["flood_waits"]
    print(f"files: {files} users, one small link each: {rate:.2f} files/s (goal >= 20), {per_file:.2f} sends per "
          f"file (goal <= 1.3; {texts} texts sent), 429s {floods}")  # fmt: skip
    took_s = bot.query(
        "SELECT json_extract(meta, '$.download_s'), json_extract(meta, '$.upload_s'),"
        " (SELECT max(o.sent_at) FROM outbox o WHERE o.job_id = j.id AND o.kind = 'media') - created_at FROM jobs j"
    )
    for name, column in (("download", 0), ("upload", 1), ("link to file", 2)):
        values = sorted(float(r[column] or 0) for r in took_s)
        print(f"  {name}: p50 {values[len(values) // 2]:.3f} s, p90 {values[len(values) * 9 // 10]:.3f} s")
    rows = bot.query("SELECT kind, role, state, count(*) FROM outbox GROUP BY kind, role, state ORDER BY 4 DESC")
    print("  outbox rows by kind, role, state: " + ", ".join(f"{k}/{r or '-'}/{s} {n}" for k, r, s, n in rows))
    result(f"files, {budget:g} sends/s budget: {files} users, one quick link each", rate, "files/s", goal=">= 20")
    result("sends per file in that run (statuses, edits and deletes included)", per_file, "", goal="<= 1.3")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SANDBOX_LIMITS": "1", "LOG_LEVEL": "warning"}
        if args.rate:  # a smaller budget, for a machine whose pipeline cannot outpace 30 files/s
            env |= {"TG_GLOBAL_RATE": str(args.rate), "SANDBOX_BOT_RATE": str(args.rate)}
        if args.status_delay is not None:
            env["STATUS_DELAY_S"] = str(args.status_delay)
        bot = BotProcess(Path(tmp), env=env, workers=2)
        load = Poster(bot.url, SEND_CONCURRENCY)
        try:
            async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
                print(f"machine speed: a fixed Python loop takes {machine_speed():.1f} ms (lower is faster)")
                if args.sends:
                    await sustained(bot, http, load, args.sends)
                if args.files:
                    await files_per_second(bot, http, load, args.files, args.rate or LIMIT)
        finally:
            await load.aclose()
            bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=1800, help="welcomes to send (60 s at 30/s)")
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0, help="the bot's sends/s, the bot's and the sandbox's (30)")
    parser.add_argument("--status-delay", type=float, help="STATUS_DELAY_S (0: a status for every job, as before)")
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
