"""Benchmark of downloader hosts (issue 18): downloads/s with 1, 2 and 3 joined hosts, and CURVE's
cost per job.

    sudo .venv/bin/python bench/bench_scale.py [--runs 3] [--hosts 1,2,3] [--delay-ms 2000]
    .venv/bin/python bench/bench_scale.py --curve-only            # no root needed

Hosts: the main host runs no downloader of its own (WORKERS=0); each joined host is a network
namespace on a veth bridge with one downloader of DOWNLOAD_SLOTS_PER_WORKER=2 slots. Every job
is a plain 200 kB file whose answers start DELAY ms late (the sandbox's `delay_ms`), so that the
slots, not the two shared cores, bound the rate: a job waits for every fetch it makes (yt-dlp's
probe, then the download; counted at the sandbox and printed), so the ideal is
hosts x slots / (fetches a job x delay).

Throughput is measured in the steady state: each run queues JOBS_PER_SLOT jobs for every slot at
once, and the rate is taken between the end of the first wave (the k-th completion, k = the
slots) and the start of the last (the k-th from the end), where every slot is busy. The whole
batch's rate (jobs / first post to last done) is printed beside it: its ramp and its tail (the
slowest of k slots ends the batch, and more slots make a slower slowest more likely) weigh on it,
more so with more hosts. Each cluster runs one unmeasured wave first (yt-dlp's first job in a
slot is slower). Prints the medians per number of hosts and what each added host brought, as a
share of one host's rate (goal: >= 0.9), and the load average while it ran.

CURVE: one process dispatches jobs to a worker over tcp:// on loopback, with and without CURVE
(a window of credits open, as `bench_ipc.py` does); the difference in CPU per job is CURVE's
cost (encryption both ways, the credit up and the job down).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result, skipped  # noqa: E402
from ipc.channels import open_job_dispatcher, open_job_worker  # noqa: E402
from ipc.curve import HOST_KEY, client_options, load_keys, make_keys, server_options  # noqa: E402
from ipc.messages import JobAssign  # noqa: E402

if TYPE_CHECKING:  # loaded only for the hosts' part (root, namespaces)
    from tests.support.bot import BotProcess

TABLE_ARGS = ["--runs", "1", "--delay-ms", "1000"]  # `make bench`: the hosts need root (netns), else skipped
SLOTS = 2
JOBS_PER_SLOT = 8
FILE_BYTES = 200_000
SETTLE_S = 600.0
CURVE_JOBS = 20_000
WINDOW = 256
_RUNS = itertools.count()  # each run's local endpoint is a new inproc:// name


# ---- downloads/s against the sandbox -----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    steady: float  # downloads/s while every slot is busy
    batch: float  # downloads/s of the whole batch, first post to last done
    fetches: float  # requests to the sandbox's /media/blob per job


async def one_run(bot: BotProcess, hosts: int, delay_ms: int, run: int, per_slot: int = JOBS_PER_SLOT) -> Run:
    slots = hosts * SLOTS
    jobs = slots * per_slot
    users = [900_000 + run * 1000 + i for i in range(jobs)]
    async with httpx.AsyncClient(base_url=bot.url, timeout=60) as http:
        fetched = await _blob_fetches(http)
        started = time.time()
        for user in users:
            url = f"{bot.url}/media/blob?size={FILE_BYTES}&delay_ms={delay_ms}&t=b{run}-{user}"
            body = {"first_name": "u", "language_code": "en", "text": url}
            (await http.post(f"/sandbox/users/{user}/messages", json=body)).raise_for_status()
        marks = ",".join("?" * len(users))
        done_sql = f"SELECT finished_at FROM jobs WHERE state = 'done' AND user_id IN ({marks}) ORDER BY finished_at"
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            done = [row[0] for row in bot.query(done_sql, *users)]
            if len(done) == jobs:
                fetches = (await _blob_fetches(http) - fetched) / jobs
                batch = jobs / (done[-1] - started)
                if per_slot < 3:  # a warm-up: no steady state to speak of
                    return Run(batch, batch, fetches)
                first_wave_ends, last_wave_starts = done[slots - 1], done[jobs - slots - 1]
                steady = (jobs - 2 * slots) / (last_wave_starts - first_wave_ends)
                return Run(steady, batch, fetches)
            await trio.sleep(0.05)
    raise RuntimeError(f"{jobs} jobs did not finish within {SETTLE_S:g} s")


async def _blob_fetches(http: httpx.AsyncClient) -> int:
    stats = (await http.get("/sandbox/stats")).raise_for_status().json()
    return int(stats["media_requests"].get("/media/blob", 0))


def downloads(hosts_list: list[int], runs: int, delay_ms: int) -> dict[int, Run]:
    from tests.scale.cluster import Cluster, netns_unavailable

    reason = netns_unavailable()
    if reason is not None:
        skipped("downloads/s with joined hosts", f"needs network namespaces: {reason}")
        return {}
    medians: dict[int, Run] = {}
    for hosts in hosts_list:
        with (
            tempfile.TemporaryDirectory(prefix="bench-scale-") as folder,
            Cluster(Path(folder), hosts=hosts, workers=0, env={"USER_REQUESTS_PER_MIN": "1000"}) as cluster,
        ):
            assert cluster.bot is not None
            trio.run(one_run, cluster.bot, hosts, delay_ms, runs, 1)  # the warm-up wave, not measured
            measured = [trio.run(one_run, cluster.bot, hosts, delay_ms, run) for run in range(runs)]
        medians[hosts] = Run(
            statistics.median(r.steady for r in measured),
            statistics.median(r.batch for r in measured),
            statistics.median(r.fetches for r in measured),
        )
        m = medians[hosts]
        ideal = hosts * SLOTS / (m.fetches * delay_ms / 1000)
        steady = ", ".join(f"{r.steady:.3f}" for r in measured)
        batch = ", ".join(f"{r.batch:.3f}" for r in measured)
        print(
            f"{hosts} host(s): {m.steady:.3f} downloads/s in the steady state (runs {steady}), "
            f"{m.batch:.3f} for the whole batch (runs {batch}); {m.fetches:.1f} fetches a job, "
            f"ideal {ideal:.3f}; load average {_load()}",
            flush=True,
        )
    return medians


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def gains(rates: dict[int, float], what: str) -> float | None:
    """Print what each added host brought, as a share of one host's rate; the share per host added
    from the fewest to the most hosts (None with fewer than two counts)."""
    counts = sorted(rates)
    one = rates[counts[0]] / counts[0]
    for before, after in itertools.pairwise(counts):
        gained = (rates[after] - rates[before]) / (one * (after - before))
        print(f"{what}: {before} -> {after} hosts: each added host brought {gained:.2f} of one host's rate")
    if len(counts) < 2:
        return None
    overall = (rates[counts[-1]] - rates[counts[0]]) / (one * (counts[-1] - counts[0]))
    print(f"{what}: {counts[0]} -> {counts[-1]} hosts: {overall:.2f} of one host's rate per host added (goal >= 0.9)")
    return overall


# ---- CURVE's cost per job ------------------------------------------------------------------------


async def dispatch_many(
    endpoint: str, listen_options: dict[str, int | bytes] | None, client: dict[str, int | bytes] | None
) -> float:
    """CPU seconds per job, both ends in this process, `CURVE_JOBS` jobs through a credit window."""
    async with (
        open_job_dispatcher(
            f"inproc://bench-local-{next(_RUNS)}", listen=endpoint, listen_options=listen_options
        ) as jobs,
        open_job_worker("downloader-1", jobs.listening, options=client) as worker,
    ):
        await worker.grant(WINDOW)

        async def send() -> None:
            for job_id in range(CURVE_JOBS + 1):
                await jobs.dispatch(
                    JobAssign(job_id=job_id, lease=1, task="download", url="https://example.com/v",
                              chat_id=1, user_id=1, format_key="best", attempt=1)
                )  # fmt: skip

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            await worker.next_job()  # connected: the clock starts
            cpu = time.process_time()
            for received in range(1, CURVE_JOBS + 1):
                await worker.next_job()
                if received % (WINDOW // 2) == 0:
                    await worker.grant(WINDOW // 2)
            used = time.process_time() - cpu
            nursery.cancel_scope.cancel()
    return used / CURVE_JOBS


def curve_cost(runs: int) -> tuple[float, float]:
    plain, curve = [], []
    with tempfile.TemporaryDirectory(prefix="bench-curve-") as folder:
        server, host = Path(folder) / "main", Path(folder) / "host"
        make_keys(server)
        make_keys(host)
        (server / "authorized" / "host.key").write_bytes((host / HOST_KEY).read_bytes())
        keys, mine = load_keys(server), load_keys(host)
        for _ in range(runs):
            plain.append(trio.run(dispatch_many, "tcp://127.0.0.1:0", None, None))
            curve.append(
                trio.run(
                    _with_auth, server, server_options(keys, 1000, 3000), client_options(mine, keys.public, 1000, 3000)
                )
            )
    return statistics.median(plain), statistics.median(curve)


async def _with_auth(curve_dir: Path, listen: dict[str, int | bytes], client: dict[str, int | bytes]) -> float:
    from ipc.curve import Authenticator

    auth = Authenticator(curve_dir)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(auth.serve)
            cost = await dispatch_many("tcp://127.0.0.1:0", listen, client)
            nursery.cancel_scope.cancel()
            return cost
    finally:
        auth.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", default="1,2,3")
    parser.add_argument("--delay-ms", type=int, default=2000)
    parser.add_argument("--curve-only", action="store_true")
    args = parser.parse_args()
    plain, curve = curve_cost(args.runs)
    print(
        f"CURVE per job (the job down, credits up in batches, both ends): {curve * 1e6:.1f} µs CPU vs "
        f"{plain * 1e6:.1f} plain tcp: "
        f"+{(curve - plain) * 1e6:.1f} µs",
        flush=True,
    )
    result("CURVE's cost per job (both ends)", (curve - plain) * 1e6, "µs CPU", digits=1)
    if args.curve_only:
        return
    medians = downloads([int(h) for h in args.hosts.split(",")], args.runs, args.delay_ms)
    if not medians:
        return
    counts = sorted(medians)
    overall = gains({h: medians[h].steady for h in counts}, "steady state")
    gains({h: medians[h].batch for h in counts}, "whole batch")
    if overall is not None:
        result(f"downloads/s gained per downloader host added ({counts[0]} -> {counts[-1]})", overall,
               "of one host's rate", goal=">= 0.9", note="in the steady state")  # fmt: skip


if __name__ == "__main__":
    main()
