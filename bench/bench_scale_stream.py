"""Benchmark of files streaming home (issue 18): MB/s over a veth link from a joined host's
namespace to this machine, against a plain TCP copy of the same file, and the CPU per GB on each
side.

    sudo .venv/bin/python bench/bench_scale_stream.py [--runs 3] [--mib 512]

The stream is the bot's own: a FileSender on a CURVE job channel in the namespace, a FileSink
behind the gateway's listener (with its ZAP handler) here, in chunks of FILE_CHUNK_KB with
FILE_WINDOW_CHUNKS in flight, each chunk CRC-checked and written, the whole file SHA-256-checked
on both sides. The plain copy is one TCP connection, `sendall` of 1 MiB reads into a file.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result, skipped  # noqa: E402
from core.config import load_settings  # noqa: E402
from ipc.channels import open_job_dispatcher, open_job_worker  # noqa: E402
from ipc.curve import (  # noqa: E402
    AUTHORIZED,
    HOST_KEY,
    Authenticator,
    client_options,
    load_keys,
    make_keys,
    server_options,
)
from ipc.filestream import FileSender, FileSink  # noqa: E402
from ipc.messages import Message  # noqa: E402

TABLE_ARGS = ["--runs", "1", "--mib", "128"]  # `make bench` (netns: needs root)
MIB = 1024 * 1024
COPY_BLOCK = MIB
BEAT_MS, TIMEOUT_MS = 1000, 3000


# ---- the processes ----------------------------------------------------------------------------


async def sink(folder: Path, address: str) -> None:
    settings = load_settings(env_file=None)  # FILE_CHUNK_KB and FILE_WINDOW_CHUNKS from the environment
    auth = Authenticator(folder / "main")
    options = server_options(load_keys(folder / "main"), BEAT_MS, TIMEOUT_MS)
    async with (
        trio.open_nursery() as nursery,
        open_job_dispatcher(f"ipc://{folder}/jobs.sock", listen=f"tcp://{address}:0", listen_options=options) as jobs,
    ):
        await nursery.start(auth.serve)
        files = FileSink(
            folder / "spool",
            jobs.send_nowait,
            window_bytes=settings.file_chunk_kb * 1024 * settings.file_window_chunks,
            max_bytes=1 << 40,
        )

        async def received(identity: bytes, msg: Message) -> None:
            await files.received(identity, msg)

        jobs.on_other = received
        nursery.start_soon(files.run)
        print(f"ready {jobs.listening}", flush=True)
        await trio.sleep_forever()


async def send(folder: Path, endpoint: str, path: Path, run: int) -> None:
    settings = load_settings(env_file=None)  # FILE_CHUNK_KB and FILE_WINDOW_CHUNKS from the environment
    keys = load_keys(folder / "host")
    options = client_options(keys, load_keys(folder / "main").public, BEAT_MS, TIMEOUT_MS)
    async with open_job_worker("downloader-1@bench", endpoint, options=options) as worker:
        sender = FileSender(worker, settings.file_chunk_kb * 1024)
        started, cpu = time.perf_counter(), time.process_time()
        await sender.send_file(run, 1, path, "media.bin")
        print(f"done {time.perf_counter() - started:.6f} {time.process_time() - cpu:.6f}", flush=True)


def tcp_sink(address: str, out: Path) -> None:
    with socket.create_server((address, 0)) as server:
        print(f"ready {server.getsockname()[1]}", flush=True)
        conn, _ = server.accept()
        with conn, out.open("wb") as f:
            while block := conn.recv(COPY_BLOCK):
                f.write(block)
    print("done", flush=True)


def tcp_send(address: str, port: int, path: Path) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    with socket.create_connection((address, port)) as conn, path.open("rb") as f:
        while block := f.read(COPY_BLOCK):
            conn.sendall(block)
    print(f"done {time.perf_counter() - started:.6f} {time.process_time() - cpu:.6f}", flush=True)


# ---- the measurement ----------------------------------------------------------------------------


def child(argv: list[str], namespace: str | None = None) -> subprocess.Popen[str]:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    full = [*prefix, sys.executable, __file__, "--role", *argv]
    return subprocess.Popen(full, stdout=subprocess.PIPE, text=True)


def ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if not line or line[0] != "ready":
        process.kill()
        raise RuntimeError(f"child did not start: {line}")
    return line[1]


def finished(process: subprocess.Popen[str]) -> tuple[float, float]:
    assert process.stdout is not None
    words = process.stdout.readline().split()
    process.wait(60)
    return float(words[1]), float(words[2])


def one(kind: str, folder: Path, namespace: str, main_ip: str, path: Path, run: int) -> tuple[float, float, float]:
    """(seconds, sender CPU s, receiver CPU s) of one copy."""
    out = folder / f"copy-{run}.bin"
    receiver = child(["tcp-sink", main_ip, str(out)] if kind == "tcp" else ["sink", str(folder), main_ip])
    try:
        where = ready(receiver)
        before = psutil.Process(receiver.pid).cpu_times()
        if kind == "tcp":
            sender = child(["tcp-send", main_ip, where, str(path)], namespace)
        else:
            sender = child(["send", str(folder), where, str(path), str(run)], namespace)
        seconds, sender_cpu = finished(sender)
        after = psutil.Process(receiver.pid).cpu_times()
        return seconds, sender_cpu, (after.user + after.system) - (before.user + before.system)
    finally:
        receiver.kill()
        receiver.wait()
        out.unlink(missing_ok=True)
        for part in (folder / "spool").rglob("*"):
            if part.is_file():
                part.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "sink":
            trio.run(sink, Path(rest[0]), rest[1])
        elif role == "send":
            trio.run(send, Path(rest[0]), rest[1], Path(rest[2]), int(rest[3]))
        elif role == "tcp-sink":
            tcp_sink(rest[0], Path(rest[1]))
        else:
            tcp_send(rest[0], int(rest[1]), Path(rest[2]))
        return

    from tests.scale.cluster import Bridge, netns_unavailable

    reason = netns_unavailable()
    if reason is not None:
        return skipped("files streamed home over veth", f"needs network namespaces: {reason}")
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        folder = Path(tmp)
        make_keys(folder / "main")
        make_keys(folder / "host")
        (folder / "main" / AUTHORIZED / "host.key").write_bytes((folder / "host" / HOST_KEY).read_bytes())
        path = folder / "media.bin"
        with path.open("wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(MIB))
        bridge = Bridge()
        try:
            namespace, _, _ = bridge.namespace("bench")
            results: dict[str, list[tuple[float, float, float]]] = {"stream": [], "tcp": []}
            for run in range(1, args.runs + 1):
                for kind in results:
                    results[kind].append(one(kind, folder, namespace, bridge.main_ip, path, run))
                    seconds, out_cpu, in_cpu = results[kind][-1]
                    print(f"run {run} {kind}: {args.mib / seconds:.0f} MiB/s, CPU {out_cpu:.2f} s sending, "
                          f"{in_cpu:.2f} s receiving", flush=True)  # fmt: skip
        finally:
            bridge.close()
    gib = args.mib / 1024
    for kind, rows in results.items():
        rate = statistics.median(args.mib / r[0] for r in rows)
        out_cpu = statistics.median(r[1] for r in rows) / gib
        in_cpu = statistics.median(r[2] for r in rows) / gib
        print(f"{kind}: {rate:.0f} MiB/s; CPU per GiB: {out_cpu:.2f} s sending, {in_cpu:.2f} s receiving")
        result(f"{'files streamed home' if kind == 'stream' else 'a plain TCP copy'} over veth", rate, "MiB/s",
               digits=0, note=f"CPU per GiB {out_cpu:.1f} s sending, {in_cpu:.1f} s receiving")  # fmt: skip


if __name__ == "__main__":
    main()
