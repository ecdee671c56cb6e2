"""Per-adapter cost of talking to Telegram, measured against the sandbox with its limits off.

Usage: .venv/bin/python bench/bench_adapters.py [--runs 3] [--sends 300] [--upload-mb 200] [--big-mb 1024]

For the botapi adapter (the sandbox runs as its own process, so only the adapter's process is
measured): upload throughput of a `--upload-mb` file (MB/s, median of runs), milliseconds per
sendMessage (median over `--sends` sequential calls, median of runs), and the RSS of this
process while uploading a `--big-mb` file compared with its RSS when idle (goal: within 50 MB).
For the mtproto adapter the same figures are taken against the contract suite's fake Telegram
at the RPC boundary (tests/contract/mtproto_env.py, in this process, no simulated delay per
part): kurigram's real upload and send code, but no network and no MTProto encryption, so they
show the adapter's own cost rather than Telegram's; the line says why when it is skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import psutil
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result, skipped  # noqa: E402
from core.telegram.port import Media, MediaKind, TelegramPort  # noqa: E402

TABLE_ARGS = ["--runs", "1", "--sends", "100", "--upload-mb", "100"]  # `make bench`: the RSS check keeps 1000 MB
USER = 777
MB = 1_000_000
RSS_SAMPLE_EVERY = 0.05  # seconds between RSS samples during the big upload
RSS_BUDGET_MB = 50.0
UPLOAD_DEADLINE = 600.0  # seconds any one upload may take
SEND_DEADLINE = 300.0  # seconds for one run of sends
WRITE_CHUNK = 1 << 20
LABELS = {
    "botapi": "botapi adapter to the sandbox",
    "mtproto": "mtproto adapter (kurigram) to the contract suite's fake",
}


def make_file(path: Path, size: int, *, sparse: bool) -> Path:
    """Random bytes (nothing along the way can compress them), or a sparse file of zeros."""
    with path.open("wb") as f:
        if sparse:
            f.truncate(size)
        else:
            left = size
            while left > 0:
                f.write(os.urandom(min(WRITE_CHUNK, left)))
                left -= WRITE_CHUNK
    return path


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def upload_rate(port: TelegramPort, path: Path, size: int) -> tuple[float, float]:
    """(MB/s, CPU seconds of this process per 100 MB) for one upload of `path`."""
    started, cpu = time.perf_counter(), cpu_seconds()
    with trio.fail_after(UPLOAD_DEADLINE):
        await port.send_media(USER, Media(MediaKind.DOCUMENT, path=path))
    return size / MB / (time.perf_counter() - started), (cpu_seconds() - cpu) * 100 * MB / size


async def send_latency_ms(port: TelegramPort, count: int) -> float:
    times = []
    with trio.fail_after(SEND_DEADLINE):
        for i in range(count):
            started = time.perf_counter()
            await port.send_text(USER, f"bench {i}")
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def rss_during_upload(port: TelegramPort, path: Path) -> tuple[float, float]:
    """(idle RSS, peak RSS while `path` uploads), in MiB."""
    idle = rss_mb()
    peak = idle
    async with trio.open_nursery() as nursery:

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_mb())
                await trio.sleep(RSS_SAMPLE_EVERY)

        nursery.start_soon(sample)
        with trio.fail_after(UPLOAD_DEADLINE):
            await port.send_media(USER, Media(MediaKind.DOCUMENT, path=path))
        peak = max(peak, rss_mb())
        nursery.cancel_scope.cancel()
    return idle, peak


async def bench_backend(
    name: str, env_factory: Callable[[Path], AbstractAsyncContextManager[Any]], args: argparse.Namespace
) -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        folder = Path(tmp)
        upload = make_file(folder / "upload.bin", args.upload_mb * MB, sparse=False)
        big = make_file(folder / "big.bin", args.big_mb * MB, sparse=True)
        async with env_factory(folder / "env") as env:
            await env.world.user_message(USER, "/start")
            async with env.make_port() as port:
                await port.get_me()  # connections open, code paths warm
                await port.send_text(USER, "warm")
                rates = [await upload_rate(port, upload, args.upload_mb * MB) for _ in range(args.runs)]
                latencies = [await send_latency_ms(port, args.sends) for _ in range(args.runs)]
                idle, peak = await rss_during_upload(port, big)
    print(
        f"{name}: upload {args.upload_mb} MB: {statistics.median(r for r, _ in rates):.0f} MB/s "
        f"(runs {', '.join(f'{r:.0f}' for r, _ in rates)}); "
        f"adapter CPU {statistics.median(c for _, c in rates):.2f} s per 100 MB"
    )
    print(
        f"{name}: sendMessage: {statistics.median(latencies):.2f} ms median "
        f"(runs of {args.sends}: {', '.join(f'{v:.2f}' for v in latencies)})"
    )
    verdict = "ok" if peak - idle <= RSS_BUDGET_MB else "OVER BUDGET"
    print(
        f"{name}: RSS idle {idle:.1f} MiB, peak while uploading {args.big_mb} MB {peak:.1f} MiB "
        f"(+{peak - idle:.1f} MiB, budget {RSS_BUDGET_MB:.0f}: {verdict})"
    )
    label = LABELS[name]
    result(f"{label}: upload of {args.upload_mb} MB", statistics.median(r for r, _ in rates), "MB/s", digits=0,
           note=f"{statistics.median(c for _, c in rates):.2f} s CPU per 100 MB")  # fmt: skip
    result(f"{label}: one sendMessage", statistics.median(latencies), "ms")
    result(f"{name} adapter: RSS while {args.big_mb} MB uploads, over idle", peak - idle, "MiB",
           goal=f"<= {RSS_BUDGET_MB:.0f} MB", digits=1)  # fmt: skip


def botapi_factory(folder: Path) -> AbstractAsyncContextManager[Any]:
    from tests.contract.botapi_env import botapi_env

    return botapi_env(folder, as_child=True)  # its own process: RSS here is the adapter's alone


def mtproto_factory() -> Callable[[Path], AbstractAsyncContextManager[Any]] | str:
    """The other adapter's env, or the reason it cannot be measured."""
    try:
        from tests.contract.mtproto_env import mtproto_env
    except ModuleNotFoundError as exc:
        return f"{exc.name} is not there"

    def factory(folder: Path) -> AbstractAsyncContextManager[Any]:
        return mtproto_env(folder, part_delay=0.0)  # no simulated network time per part

    return factory


async def main(args: argparse.Namespace) -> None:
    backends: list[str] = args.backend or ["botapi", "mtproto"]
    for name in backends:
        factory = botapi_factory if name == "botapi" else mtproto_factory()
        if isinstance(factory, str):
            print(f"{name}: skipped ({factory})")
            skipped(f"the {name} adapter", factory)
            continue
        await bench_backend(name, factory, args)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    parser.add_argument("--sends", type=int, default=300, help="sendMessage calls per run")
    parser.add_argument("--upload-mb", type=int, default=200, help="size of the throughput file, MB")
    parser.add_argument("--big-mb", type=int, default=1000, help="size of the file for the RSS check, MB")
    parser.add_argument("--backend", action="append", choices=["botapi", "mtproto"], help="default: both")
    return parser.parse_args()


if __name__ == "__main__":
    trio.run(main, _parse())
