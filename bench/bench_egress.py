"""The SSRF guard's cost: ms added per job, and MB/s of a big download through it and without it.

Starts `python -m sandbox --port 0` and, in this process, the egress proxy in sandbox mode
(as the downloader runs it: the proxy in the trio loop, yt-dlp in a worker thread). Then, in
one run:
- ms per job: the median over `--jobs` small jobs (yt-dlp's generic extractor on the sandbox's
  sample.mp4, then its download; one reused YoutubeDL per side), through the guard and direct;
- MB/s of a `--mb` MB /media/blob download by yt-dlp's http downloader into a temporary file,
  through the guard and direct, interleaved, median of `--runs` each, and the CPU seconds
  this process spent per 100 MB; the loss of throughput in % (goal: under 5 %);
- the same at a paced link (/media/slow, `--paced-mbps` MB/s, `--paced-mb` MB), where the
  guard's CPU is no longer in the way of the bytes: what a server with a real network sees.
On loopback the download is CPU-bound, so on a shared machine any CPU the guard takes shows as
lost throughput; the load average is printed with the figures.

`--buffer-kib N` fixes yt-dlp's read size (`buffersize`, `noresizebuffer`) on both sides.

Usage: .venv/bin/python bench/bench_egress.py [--jobs 30] [--mb 500] [--runs 3] [--paced-mbps 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import trio
import yt_dlp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from downloader.egress import EgressProxy, Policy, open_egress_proxy  # noqa: E402
from tests.support.sandbox import SandboxProcess  # noqa: E402

TABLE_ARGS = ["--jobs", "10", "--runs", "5", "--paced-mb", "80"]  # `make bench`: the 500 MB
MB = 1_000_000
GOAL_LOSS_PCT = 5.0
JOB_DEADLINE_S = 120.0
DOWNLOAD_DEADLINE_S = 900.0
BASE_OPTIONS = {"quiet": True, "no_warnings": True, "noprogress": True, "cachedir": False, "retries": 0}


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def options(proxy: EgressProxy | None, out: Path, buffer_kib: int) -> dict[str, Any]:
    guard = proxy.ytdlp_options("bench") if proxy is not None else {"proxy": ""}
    buffer = {"buffersize": buffer_kib * 1024, "noresizebuffer": True} if buffer_kib else {}
    return {**BASE_OPTIONS, **buffer, "outtmpl": str(out / "%(id)s.%(ext)s"), "overwrites": True, **guard}


def small_jobs(ydl: yt_dlp.YoutubeDL, url: str, count: int) -> list[float]:
    """Milliseconds per job: extract (generic extractor, a GET) and download the sample."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        info = ydl.extract_info(url, download=True)
        times.append((time.perf_counter() - started) * 1000)
        if not info or not info.get("requested_downloads"):
            raise RuntimeError(f"no download from {url}")
    return times


def big_download(ydl: yt_dlp.YoutubeDL, url: str, size: int) -> tuple[float, float]:
    """(MB/s, CPU seconds per 100 MB) of one download of `url` by yt-dlp's http downloader."""
    info = {"id": "blob", "title": "blob", "ext": "bin", "url": url, "protocol": "http"}
    started, cpu = time.perf_counter(), cpu_seconds()
    result = ydl.process_ie_result(info, download=True)
    elapsed = time.perf_counter() - started
    path = Path(result["requested_downloads"][0]["filepath"])
    got = path.stat().st_size
    path.unlink()
    if got != size:
        raise RuntimeError(f"downloaded {got} bytes of {size}")
    return size / MB / elapsed, (cpu_seconds() - cpu) * 100 * MB / size


async def in_thread(fn: Any, *args: Any, deadline: float) -> Any:
    with trio.fail_after(deadline):
        return await trio.to_thread.run_sync(fn, *args)


async def interleaved(
    guarded: yt_dlp.YoutubeDL, direct: yt_dlp.YoutubeDL, url: str, size: int, runs: int
) -> dict[str, list[tuple[float, float]]]:
    """`runs` downloads per side, alternating which side goes first."""
    rates: dict[str, list[tuple[float, float]]] = {"guard": [], "direct": []}
    for run_index in range(runs):
        order = [("guard", guarded), ("direct", direct)]
        for name, ydl in order if run_index % 2 == 0 else order[::-1]:
            rates[name].append(await in_thread(big_download, ydl, url, size, deadline=DOWNLOAD_DEADLINE_S))
    return rates


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-egress-") as tmp:
        folder = Path(tmp)
        (folder / "sandbox").mkdir()
        sandbox = SandboxProcess(folder / "sandbox")
        try:
            port = int(sandbox.url.rsplit(":", 1)[1])
            async with open_egress_proxy(Policy.sandbox(("127.0.0.1", port))) as proxy:
                await run(args, sandbox.url, proxy, folder)
        finally:
            sandbox.stop()


async def run(args: argparse.Namespace, base: str, proxy: EgressProxy, folder: Path) -> None:
    sample, size = f"{base}/media/sample.mp4", args.mb * MB
    blob = f"{base}/media/blob?size={size}"
    with (
        yt_dlp.YoutubeDL(options(proxy, folder / "guarded", args.buffer_kib)) as guarded,
        yt_dlp.YoutubeDL(options(None, folder / "direct", args.buffer_kib)) as direct,
    ):
        for ydl in (guarded, direct):  # warm: extractors loaded, connections made
            await in_thread(small_jobs, ydl, sample, 2, deadline=JOB_DEADLINE_S)
        job_ms: dict[str, list[float]] = {"guard": [], "direct": []}
        for _ in range(args.jobs):  # interleaved, so both sides see the same machine load
            job_ms["guard"] += await in_thread(small_jobs, guarded, sample, 1, deadline=JOB_DEADLINE_S)
            job_ms["direct"] += await in_thread(small_jobs, direct, sample, 1, deadline=JOB_DEADLINE_S)
        rates = await interleaved(guarded, direct, blob, size, args.runs)
        paced_size = args.paced_mb * MB
        paced_url = f"{base}/media/slow?size={paced_size}&rate={int(args.paced_mbps * MB)}"
        paced = await interleaved(guarded, direct, paced_url, paced_size, args.runs) if args.paced_mb else {}
    buffer = f"{args.buffer_kib} KiB fixed" if args.buffer_kib else "adaptive (yt-dlp's default)"
    print(
        f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} ({os.cpu_count()} cores); yt-dlp reads: {buffer}"
    )
    report(args, job_ms, rates, paced)
    if proxy.refusals("bench"):
        print(f"unexpected refusals: {proxy.refusals('bench')}")


def report(
    args: argparse.Namespace,
    job_ms: dict[str, list[float]],
    rates: dict[str, list[tuple[float, float]]],
    paced: dict[str, list[tuple[float, float]]],
) -> None:
    guard_ms, direct_ms = statistics.median(job_ms["guard"]), statistics.median(job_ms["direct"])
    print(
        f"per job ({args.jobs} small jobs, generic extractor + download): guard {guard_ms:.1f} ms, "
        f"direct {direct_ms:.1f} ms median: +{guard_ms - direct_ms:.1f} ms per job"
    )
    result(f"egress guard: time added per job ({args.jobs} small yt-dlp jobs)", guard_ms - direct_ms, "ms", digits=1,
           note=f"{guard_ms:.1f} vs {direct_ms:.1f} ms")  # fmt: skip
    loss = throughput(f"{args.mb} MB download", rates)
    verdict = "ok" if loss < GOAL_LOSS_PCT else "OVER GOAL"
    print(f"throughput loss through the guard: {loss:.1f} % (goal < {GOAL_LOSS_PCT:.0f} %: {verdict})")
    result(f"egress guard: throughput lost on a {args.mb} MB download over loopback", loss, "%",
           goal=f"< {GOAL_LOSS_PCT:g} %", digits=1, note=medians(rates))  # fmt: skip
    if paced:
        paced_loss = throughput(f"{args.paced_mb} MB paced at {args.paced_mbps:g} MB/s", paced)
        print(f"throughput loss through the guard at a paced link: {paced_loss:.1f} %")
        link = f"{args.paced_mb} MB at a link paced to {args.paced_mbps:g} MB/s"
        result(f"egress guard: throughput lost on {link}", paced_loss, "%", digits=1, note=medians(paced))


def medians(rates: dict[str, list[tuple[float, float]]]) -> str:
    guard, direct = (statistics.median(r for r, _ in rates[name]) for name in ("guard", "direct"))
    return f"{guard:.0f} vs {direct:.0f} MB/s"


def throughput(label: str, rates: dict[str, list[tuple[float, float]]]) -> float:
    """Print both sides' medians; the loss in %."""
    med = {name: statistics.median(r for r, _ in runs) for name, runs in rates.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in rates.items()}
    for name in ("guard", "direct"):
        shown = ", ".join(f"{r:.0f}" for r, _ in rates[name])
        print(
            f"{label}, {name}: {med[name]:.1f} MB/s median (runs {shown}); "
            f"this process {cpu[name]:.2f} CPU s per 100 MB"
        )
    return (1 - med["guard"] / med["direct"]) * 100


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=30, help="small jobs per side for the ms figure")
    parser.add_argument("--mb", type=int, default=500, help="size of the big download, MB")
    parser.add_argument("--runs", type=int, default=3, help="big downloads per side; the median is printed")
    parser.add_argument(
        "--buffer-kib", type=int, default=0, help="yt-dlp's read size, fixed (0: yt-dlp's adaptive default)"
    )
    parser.add_argument("--paced-mb", type=int, default=200, help="size of the paced download, MB (0: skip)")
    parser.add_argument("--paced-mbps", type=float, default=40.0, help="pace of the paced download, MB/s")
    return parser.parse_args()


if __name__ == "__main__":
    trio.run(main, _parse())
