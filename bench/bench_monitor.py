"""What the monitor and the metrics cost, in a `--workers 2` bot against the sandbox (limits off).

    .venv/bin/python bench/bench_monitor.py [--idle-s 60] [--jobs 300] [--rounds 3]

(1) idle: the monitor's CPU while the bot has nothing to do, in % of one core (HEALTH_CHECK_INTERVAL
    at its default of 60 s, so one psutil round falls in each minute measured);
(2) under load: the pipeline benchmark's throughput phase (`--jobs` distinct small files): the
    monitor's CPU per job;
(3) the extra CPU per job that metrics cost across all processes (goal < 1 ms), added up from its
    parts: the bumps a job makes (counted from /metrics after the run) times the cost of one bump
    (measured here, in-process), the snapshots shipped with the heartbeats (one per process and
    heartbeat, an upper bound: they go only when something changed) times the cost of one, and
    the monitor's whole CPU per job (an upper bound of its share: it also runs its rules).
Each figure is the median of `--rounds` runs of the phase.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import psutil
import trio
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import HTTP_TIMEOUT_S, SEND_CONCURRENCY, cpu_seconds, machine_speed, throughput  # noqa: E402
from bench.loadgen import Poster  # noqa: E402
from bench.table import borrowed, result  # noqa: E402
from core import metrics  # noqa: E402
from ipc.messages import encode  # noqa: E402
from tests.support.bot import BotProcess  # noqa: E402

TABLE_ARGS = ["--idle-s", "60", "--rounds", "1", "--jobs", "200"]  # `make bench`: one round
BUMP_SAMPLES = 200_000
SHIP_SAMPLES = 2_000
SETTLE_S = 5.0  # after ready: start-up work (migrations, the first backup) is not idle time
# Families bumped once per event; a byte counter is bumped beside the histogram of its event.
UNIT_COUNTERS = (
    "jobs",
    "sends",
    "cache_hits",
    "single_flight_joins",
    "sponsor_checks",
    "egress_refusals",
    "flood_waits",
)
PAIRED = {"upload_seconds": "uploaded_bytes", "download_seconds": "downloaded_bytes"}


def monitor_cpu(bot: BotProcess) -> float:
    times = psutil.Process(int(bot.processes()["monitor"]["pid"])).cpu_times()
    return times.user + times.system


async def idle(bot: BotProcess, seconds: float) -> float:
    """% of one core the monitor used while nothing happened."""
    began, cpu = time.monotonic(), monitor_cpu(bot)
    await trio.sleep(seconds)
    return 100 * (monitor_cpu(bot) - cpu) / (time.monotonic() - began)


def scrape(bot: BotProcess) -> dict[str, float]:
    """Every sample of /metrics summed over its labels, by sample name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.monitor_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def bumps(before: dict[str, float], after: dict[str, float]) -> float:
    grown = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    count = sum(grown.get(f"mediabot_{name}_total", 0.0) for name in UNIT_COUNTERS)
    for name, family in metrics.FAMILIES.items():
        if family.kind == "histogram":
            observed = grown.get(f"mediabot_{name}_count", 0.0)
            count += observed * (2 if name in PAIRED else 1)
    count += grown.get("mediabot_flood_waits_total", 0.0)  # flood_wait_seconds beside each
    return count


def bump_cost_us() -> float:
    """µs of one bump: a counter with labels, as the processes call it."""
    metrics.reset()
    began = time.perf_counter()
    for _ in range(BUMP_SAMPLES):
        metrics.count("sends", method="text", priority="1")
    took = time.perf_counter() - began
    metrics.reset()
    return took / BUMP_SAMPLES * 1e6


def ship_cost_us(series: int) -> float:
    """µs to snapshot and encode one process's values (`series` of them), as each heartbeat does."""
    metrics.reset()
    for i in range(series):
        metrics.count("jobs", platform=f"site{i}", outcome="done")
    metrics.observe("upload_seconds", 1.0)
    began = time.perf_counter()
    for _ in range(SHIP_SAMPLES):
        encode(metrics.snapshot("uploader"))
    took = time.perf_counter() - began
    metrics.reset()
    return took / SHIP_SAMPLES * 1e6


async def under_load(
    bot: BotProcess, http: httpx.AsyncClient, load: Poster, args: argparse.Namespace
) -> tuple[float, float, float, float]:
    """(the monitor's CPU ms per job, bumps per job, seconds the phase took, all processes' CPU ms per job)"""
    before, cpu_before = scrape(bot), cpu_seconds(bot)
    began = time.monotonic()
    with borrowed():  # the journey's figures are bench_pipeline's rows
        await throughput(bot, http, load, args)
    took = time.monotonic() - began
    cpu_after = cpu_seconds(bot)
    await trio.sleep(2 * bot_heartbeat_s)  # the last metrics reach the monitor
    after = scrape(bot)
    spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    bot_total = sum(v for name, v in spent.items() if name not in ("load generator", "sandbox"))
    return spent["monitor"] * 1000 / args.jobs, bumps(before, after) / args.jobs, took, bot_total * 1000 / args.jobs


bot_heartbeat_s = 1.0  # HEARTBEAT_INTERVAL's default


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SANDBOX_LIMITS": "0", "TG_GLOBAL_RATE": "1000", "TG_CHAT_RATE": "100", "TG_CHAT_BURST": "100",
               "LOG_LEVEL": "warning"}  # fmt: skip
        bot = BotProcess(Path(tmp), env=env, workers=2)
        load = Poster(bot.url, SEND_CONCURRENCY)
        try:
            async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
                print(f"machine speed: a fixed Python loop takes {machine_speed():.1f} ms (lower is faster)")
                await trio.sleep(SETTLE_S)
                idles = [await idle(bot, args.idle_s) for _ in range(args.rounds)]
                print(f"(1) the monitor at idle: {statistics.median(idles):.2f} % of a core"
                      f" (runs: {', '.join(f'{x:.2f}' for x in idles)}; {args.idle_s:g} s each)")  # fmt: skip
                result(f"the monitor's CPU at idle ({args.idle_s:g} s, one health check a minute)",
                       statistics.median(idles), "% of a core")  # fmt: skip
                loads = []
                for round_no in range(args.rounds):  # another size, other links: every round downloads
                    fresh = argparse.Namespace(**{**vars(args), "size": args.size + round_no})
                    loads.append(await under_load(bot, http, load, fresh))
                processes = len(bot.processes()) - 1  # the sandbox ships nothing
        finally:
            await load.aclose()
            bot.stop()
    monitor_ms = statistics.median(x[0] for x in loads)
    per_job = statistics.median(x[1] for x in loads)
    seconds = statistics.median(x[2] for x in loads)
    all_ms = statistics.median(x[3] for x in loads)
    print(f"(2) the monitor under load: {monitor_ms:.3f} ms CPU per job ({args.jobs} jobs a run; the bot's"
          f" processes together {all_ms:.1f} ms per job)")  # fmt: skip
    result(f"the monitor's CPU per job under load ({args.jobs} jobs, --workers 2)", monitor_ms, "ms", digits=3,
           note=f"the bot's processes together {all_ms:.1f} ms a job")  # fmt: skip
    bump, ship = bump_cost_us(), ship_cost_us(series=20)
    ships = processes * seconds / bot_heartbeat_s / args.jobs
    cost = per_job * bump / 1000 + ships * ship / 1000 + monitor_ms
    parts = f"{per_job:.1f} bumps x {bump:.2f} µs + {ships:.2f} snapshots x {ship:.0f} µs"
    parts += f" + the monitor {monitor_ms:.3f} ms"
    print(f"(3) metrics per job, all processes: {parts} = {cost:.3f} ms (goal < 1 ms)")
    result("what metrics cost per job, all processes (an upper bound)", cost, "ms", goal="< 1 ms", digits=3,
           note=parts)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
