"""The sandbox's own ceiling, so it is never the bottleneck of the bot's benchmarks.

Starts `python -m sandbox --port 0` in a temporary folder and measures, over loopback:
- sendMessage requests/s with limits off, from several concurrent keep-alive httpx clients;
- upload MB/s of one big sendDocument (multipart streamed from memory, stored and hashed on disk).
Prints the median of several runs. Usage: .venv/bin/python bench/bench_sandbox.py [--runs 5]
Goal (issue 3): never the bottleneck of the bot's benchmarks; the issue sets no number.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.table import result
from tests.sandbox.support import TOKEN
from tests.support.sandbox import SandboxProcess

TABLE_ARGS = ["--runs", "3", "--requests", "1000", "--upload-mb", "100"]  # `make bench`
MIB = 1024 * 1024
BOUNDARY = "bench-boundary"
RSS_SAMPLE_S = 0.05


async def _send_messages(url: str, clients: int, per_client: int) -> float:
    """Requests/s of `clients` concurrent clients sending `per_client` messages each."""

    async def client(user_id: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for i in range(per_client):
                resp = await http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": user_id, "text": f"message {i}"})
                if resp.status_code != 200:
                    raise RuntimeError(f"sendMessage answered {resp.status_code}: {resp.text}")

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for user_id in range(1, clients + 1):
            nursery.start_soon(client, user_id)
    return clients * per_client / (trio.current_time() - start)


async def _body(size: int) -> AsyncIterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n1\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = os.urandom(MIB)
    for _ in range(size // MIB):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def _upload(url: str, size_mb: int, server: psutil.Process) -> tuple[float, float]:
    """(MB/s, growth of the server's RSS in MiB) for one upload of `size_mb`."""
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    baseline = peak = server.memory_info().rss

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.memory_info().rss)
            await trio.sleep(RSS_SAMPLE_S)

    async with httpx.AsyncClient(base_url=url, timeout=600) as http, trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        start = trio.current_time()
        resp = await http.post(f"/bot{TOKEN}/sendDocument", content=_body(size_mb * MIB), headers=headers)
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    if resp.status_code != 200:
        raise RuntimeError(f"sendDocument answered {resp.status_code}: {resp.text}")
    return size_mb / elapsed, (peak - baseline) / MIB


async def _bench(url: str, pid: int, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/sandbox/config", json={"limits": False})
        for user_id in range(1, args.clients + 1):
            await http.post(f"/sandbox/users/{user_id}/messages", json={"text": "hi"})
    await _send_messages(url, args.clients, 50)  # warm-up
    server = psutil.Process(pid)
    rates, cpu_ms = [], []
    for _ in range(args.runs):
        before = sum(server.cpu_times()[:2])
        rates.append(await _send_messages(url, args.clients, args.requests // args.clients))
        cpu_ms.append((sum(server.cpu_times()[:2]) - before) * 1000 / args.requests)
    print(
        f"sendMessage: median {statistics.median(rates):.0f} req/s "
        f"({args.clients} clients, {args.requests} requests a run, runs {', '.join(f'{r:.0f}' for r in rates)}); "
        f"server CPU {statistics.median(cpu_ms):.2f} ms a request, so about "
        f"{1000 / statistics.median(cpu_ms):.0f} req/s per core on the server side"
    )
    result(f"the sandbox: sendMessage, limits off, {args.clients} clients", statistics.median(rates), "req/s",
           digits=0, note=f"server CPU {statistics.median(cpu_ms):.2f} ms a request")  # fmt: skip
    speeds, growths = [], []
    for _ in range(args.runs):
        speed, growth = await _upload(url, args.upload_mb, psutil.Process(pid))
        speeds.append(speed)
        growths.append(growth)
        async with httpx.AsyncClient(base_url=url) as http:  # keep the disk from filling up
            await http.post("/sandbox/reset")
            await http.post("/sandbox/config", json={"limits": False})
            await http.post("/sandbox/users/1/messages", json={"text": "hi"})
    print(
        f"upload: median {statistics.median(speeds):.0f} MB/s "
        f"({args.upload_mb} MB sendDocument, runs {', '.join(f'{s:.0f}' for s in speeds)}); "
        f"server RSS grew at most {max(growths):.1f} MiB during an upload"
    )
    result(f"the sandbox: upload of {args.upload_mb} MiB (sendDocument) over loopback", statistics.median(speeds),
           "MiB/s", digits=0, note=f"server RSS +{max(growths):.1f} MiB at most")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000, help="sendMessage calls per run")
    parser.add_argument("--upload-mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        data, media = Path(tmp) / "data", Path(tmp) / "data" / "sandbox" / "media"
        data.mkdir()
        sandbox = SandboxProcess(data, media)
        try:
            print(f"sandbox at {sandbox.url} (pid {sandbox.proc.pid}, {os.cpu_count()} cores)")
            trio.run(_bench, sandbox.url, sandbox.proc.pid, args)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
