"""Benchmark of the job channel between two processes (and the monitor RPC), over ipc://.

    .venv/bin/python bench/bench_ipc.py [--runs 5] [--messages 100000] [--samples 1000]

Prints, as medians of several runs:
- one-way throughput of the job channel: a gateway process dispatches JobAssign messages as
  fast as it can to a downloader process that keeps a window of credits open (goal: >= 20,000/s);
- round trip when idle: the downloader asks for one job (Credit) and the waiting gateway sends
  it (JobAssign), one at a time with a pause between, p50 and p99 in ms (goal: p99 < 2 ms);
- the same round trip for an RPC call to a monitor-like echo server;
- for scale, the same round trip with plain blocking pyzmq on both ends (no trio, no msgspec):
  on a loaded machine the tail is mostly the OS scheduler, and this baseline shows how much.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from ipc.channels import RpcClient, RpcServer, open_job_dispatcher, open_job_worker  # noqa: E402
from ipc.messages import Echo, JobAssign, RpcCall, RpcResult  # noqa: E402

TABLE_ARGS = ["--runs", "3", "--messages", "50000", "--samples", "500"]  # `make bench`
WINDOW = 512  # credits the downloader keeps open in the throughput run
IDLE_GAP = 0.002  # seconds between round trips, so both processes fall idle in between
CHILD_START_TIMEOUT = 30.0


# ---- the other process -------------------------------------------------------------------------


async def gateway(endpoint: str) -> None:
    """Dispatch jobs forever, as fast as credits allow."""
    async with open_job_dispatcher(endpoint) as jobs:
        print("ready", flush=True)
        job_id = 0
        while True:
            await jobs.dispatch(
                JobAssign(
                    lease=1,
                    task="download",
                    job_id=job_id,
                    url=f"https://www.youtube.com/watch?v={job_id:011d}",
                    chat_id=123456789,
                    user_id=123456789,
                    format_key="best",
                    attempt=1,
                )
            )
            job_id += 1


async def rpc_server(endpoint: str) -> None:
    async def echo(call: RpcCall) -> RpcResult:
        assert isinstance(call, Echo)
        return call

    with RpcServer(endpoint) as server:
        print("ready", flush=True)
        await server.serve({Echo: echo})


def raw_echo(endpoint: str) -> None:
    """Plain blocking pyzmq ROUTER that echoes every message: the baseline."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    print("ready", flush=True)
    while True:
        sock.send_multipart(sock.recv_multipart())


def start_child(role: str, endpoint: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, __file__, "--child", role, endpoint], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        raise RuntimeError(f"{role} did not start: {line!r}")
    return child


# ---- measurements ------------------------------------------------------------------------------


async def one_way(endpoint: str, messages: int) -> float:
    """Jobs per second received by a downloader from a gateway process."""
    async with open_job_worker("downloader-1", endpoint) as worker:
        await worker.grant(WINDOW)
        await worker.next_job()  # the first one includes connecting; start the clock after it
        started = time.perf_counter()
        for received in range(1, messages):
            await worker.next_job()
            if received % (WINDOW // 2) == 0:
                await worker.grant(WINDOW // 2)
        return (messages - 1) / (time.perf_counter() - started)


async def job_round_trips(endpoint: str, samples: int) -> list[float]:
    """Milliseconds from asking for a job to having it, one at a time."""
    async with open_job_worker("downloader-1", endpoint) as worker:
        await worker.next_job()  # connect
        times = []
        for _ in range(samples):
            await trio.sleep(IDLE_GAP)
            started = time.perf_counter()
            await worker.next_job()
            times.append((time.perf_counter() - started) * 1000)
        return times


async def rpc_round_trips(endpoint: str, samples: int) -> list[float]:
    with RpcClient(endpoint) as rpc:
        await rpc.call(Echo(), timeout=CHILD_START_TIMEOUT)
        times = []
        for k in range(samples):
            await trio.sleep(IDLE_GAP)
            started = time.perf_counter()
            await rpc.call(Echo(text=str(k)))
            times.append((time.perf_counter() - started) * 1000)
        return times


async def raw_round_trips(endpoint: str, samples: int) -> list[float]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(endpoint)
    payload = b"x" * 100
    try:
        sock.send(payload)
        sock.recv()  # connect
        times = []
        for _ in range(samples):
            time.sleep(IDLE_GAP)  # noqa: ASYNC251 -- the baseline is blocking pyzmq on purpose
            started = time.perf_counter()
            sock.send(payload)
            sock.recv()
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        sock.close(linger=0)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_against(role: str, measure: Any, *args: Any) -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-ipc-") as folder:
        endpoint = f"ipc://{folder}/{role}.sock"
        child = start_child(role, endpoint)
        try:
            return trio.run(measure, endpoint, *args)
        finally:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "ENDPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        role, endpoint = args.child
        if role == "raw-echo":
            raw_echo(endpoint)
        else:
            trio.run(gateway if role == "gateway" else rpc_server, endpoint)
        return

    rates: list[float] = []
    trips: dict[str, list[tuple[float, float]]] = {"job": [], "rpc": [], "plain": []}
    for run in range(1, args.runs + 1):
        rates.append(run_against("gateway", one_way, args.messages))
        for kind, role, measure in (
            ("job", "gateway", job_round_trips),
            ("rpc", "rpc-server", rpc_round_trips),
            ("plain", "raw-echo", raw_round_trips),
        ):
            times = run_against(role, measure, args.samples)
            trips[kind].append((percentile(times, 0.5), percentile(times, 0.99)))
        shown = "; ".join(f"{kind} p50 {t[-1][0]:.3f} p99 {t[-1][1]:.3f} ms" for kind, t in trips.items())
        print(f"run {run}: {rates[-1]:,.0f} jobs/s one way; round trips: {shown}", flush=True)

    def medians(kind: str) -> str:
        p50 = statistics.median(t[0] for t in trips[kind])
        p99 = statistics.median(t[1] for t in trips[kind])
        return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"

    print(f"\nmedians of {args.runs} runs ({args.messages:,} jobs, {args.samples:,} round trips per run):")
    print(f"  job channel one way:      {statistics.median(rates):,.0f} messages/s   (goal >= 20,000)")
    print(f"  job round trip, idle:     {medians('job')}   (goal p99 < 2 ms)")
    print(f"  rpc round trip, idle:     {medians('rpc')}")
    print(f"  plain pyzmq round trip:   {medians('plain')}   (baseline: blocking, no trio, no msgspec)")
    result("job channel, one way between two processes", statistics.median(rates), "msg/s", goal=">= 20,000", digits=0)
    for kind, label, goal in (("job", "job channel", "p99 < 2 ms"), ("rpc", "monitor RPC", "")):
        p99 = statistics.median(t[1] for t in trips[kind])
        result(f"{label} round trip, idle: p99", p99, "ms", goal=goal, digits=3)
    print(f"  load average afterwards:  {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
