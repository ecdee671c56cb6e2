"""Image posts as albums, end to end, with Telegram's limits on in the sandbox (30 sends/s).

    .venv/bin/python bench/bench_albums.py [--albums 60] [--items 4] [--rounds 3]

- albums/s: `--albums` users each send a link to a post of `--items` pictures at once (yt-dlp
  finds no video, gallery-dl reads the post, the uploader sends one album); an album of N counts
  N against the 30/s, and each job also costs its status message and that message's removal,
  so the ceiling is 30 / (N + 2) albums/s. Printed: albums/s (median of `--rounds`), its share of
  the ceiling, the peak send rate, 429s, and the downloaders' CPU per album;
- gallery-dl's cost in a downloader: the RSS and the CPU time of loading it (a fresh process
  that has imported the downloader's worker, then loads gallery-dl and all its extractors, as the
  first link with no video does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import SEND_CONCURRENCY, send_all  # noqa: E402
from bench.loadgen import Poster  # noqa: E402
from bench.table import result  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402

HTTP_TIMEOUT_S = 60.0
POLL_S = 0.25
DEADLINE_S = 900.0
LIMIT = 30.0
EXTRA_SENDS = 2  # the job's status message, and its removal
MIB = 2**20

LOAD_GALLERY_DL = """
import json, resource, time, psutil
import downloader.worker
p = psutil.Process()
before, cpu = p.memory_info().rss, time.process_time()
import downloader.gallery_jobs
downloader.gallery_jobs.site_of("https://example.com/post/1")  # gallery-dl's extractors, all of them
print(json.dumps({"before": before, "after": p.memory_info().rss, "cpu": time.process_time() - cpu}))
"""


async def stats(http: httpx.AsyncClient) -> dict:
    return dict((await http.get("/sandbox/stats")).json())


FINAL = "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND user_id IN ({marks})"
FAILED = "SELECT count(*) FROM jobs WHERE state != 'done' AND user_id IN ({marks})"


def over(bot: BotProcess, users: range) -> int:
    """How many of the round's jobs are over (a failed one sends no album: the round ends anyway)."""
    return int(bot.query(FINAL.format(marks=",".join("?" * len(users))), *users)[0][0])


def downloaders_cpu(bot: BotProcess) -> float:
    total = 0.0
    for name, info in bot.processes().items():
        if name.startswith("downloader"):
            times = psutil.Process(int(info["pid"])).cpu_times()
            total += times.user + times.system
    return total


async def one_round(bot: BotProcess, http: httpx.AsyncClient, load: Poster, args: argparse.Namespace, n: int) -> dict:
    before = await stats(http)
    cpu = downloaders_cpu(bot)
    base = 700_000 + n * args.albums
    users = range(base, base + args.albums)
    posts = [(u, f"{bot.url}/media/gallery.html?images={args.items}&videos=0&round={n}&u={u}") for u in users]
    began = time.monotonic()
    await send_all(load, posts)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        done = (await stats(http))["requests"].get("sendMediaGroup", 0) - before["requests"].get("sendMediaGroup", 0)
        if done >= args.albums or over(bot, users) >= args.albums:
            break
        await trio.sleep(POLL_S)
    took = time.monotonic() - began
    after = await stats(http)
    failed = bot.query(FAILED.format(marks=",".join("?" * len(users))), *users)[0][0]
    return {
        "failed": failed,
        "rate": args.albums / took,
        "peak": after["peak_send_rate"],
        "floods": after["flood_waits"] - before["flood_waits"],
        "cpu_ms": 1000 * (downloaders_cpu(bot) - cpu) / args.albums,
    }


def gallery_dl_cost() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LOAD_GALLERY_DL], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


TABLE_ARGS = ["--rounds", "1"]  # `make bench`


async def run(args: argparse.Namespace) -> None:
    costs = [gallery_dl_cost() for _ in range(args.rounds)]
    extra = statistics.median((c["after"] - c["before"]) / MIB for c in costs)
    load_ms = statistics.median(1000 * c["cpu"] for c in costs)
    idle = statistics.median(c["before"] / MIB for c in costs)
    print(f"gallery-dl in a downloader: +{extra:.1f} MiB RSS (on {idle:.1f} MiB), {load_ms:.0f} ms CPU to load it")
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcess(Path(tmp), env={"SANDBOX_LIMITS": "1", "LOG_LEVEL": "warning"}, workers=2)
        rounds = []
        try:
            async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
                for n in range(args.rounds):
                    load = Poster(bot.url, SEND_CONCURRENCY)  # fresh sockets: the server closes idle ones
                    try:
                        rounds.append(await one_round(bot, http, load, args, n))
                    finally:
                        await load.aclose()
        finally:
            bot.stop()
    ceiling = LIMIT / (args.items + EXTRA_SENDS)
    rate = statistics.median(r["rate"] for r in rounds)
    shown = ", ".join(f"{r['rate']:.2f}" for r in rounds)
    print(
        f"albums: {args.albums} posts of {args.items} pictures at once: {rate:.2f} albums/s ({shown}) = "
        f"{100 * rate / ceiling:.0f} % of 30/({args.items}+{EXTRA_SENDS}) = {ceiling:.2f}; "
        f"peak {max(r['peak'] for r in rounds)}/s, 429s {sum(r['floods'] for r in rounds)}, "
        f"downloaders' CPU {statistics.median(r['cpu_ms'] for r in rounds):.0f} ms an album, "
        f"jobs not done {sum(r['failed'] for r in rounds)}"
    )
    result(f"albums of {args.items} pictures, {args.albums} posts at once, limits on", rate, "albums/s",
           note=f"ceiling 30/({args.items}+{EXTRA_SENDS}) = {ceiling:.2f}; each chat's 1/s binds")  # fmt: skip
    result("RSS a downloader gains with gallery-dl loaded", extra, "MiB", digits=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--albums", type=int, default=60, help="users, one post each, per round")
    parser.add_argument("--items", type=int, default=4, help="pictures a post")
    parser.add_argument("--rounds", type=int, default=3)
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
