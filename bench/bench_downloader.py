"""One downloader's engine on its own: small direct files per second, and yt-dlp's overhead.

    .venv/bin/python bench/bench_downloader.py [--files 200] [--size 100000]

The engine runs as a downloader process runs it: DOWNLOAD_SLOTS_PER_WORKER slots, each a thread
with its reused YoutubeDL, every fetch through the egress guard, against a sandbox subprocess.
Printed: files/s with every slot busy (goal >= 15), and per job the engine's time against a
plain HTTP GET of the same bytes (the difference: what yt-dlp, the guard and our checks cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from core.config import load_settings  # noqa: E402
from downloader.egress import Policy, open_egress_proxy  # noqa: E402
from downloader.engine import Control, DownloadResult, Engine  # noqa: E402
from ipc.messages import JobAssign  # noqa: E402
from tests.support.sandbox import SandboxProcess  # noqa: E402

TABLE_ARGS = ["--files", "100"]  # `make bench`
WARM_UP = 8  # jobs before the clock starts: every slot builds its YoutubeDL once
ALONE = 30  # jobs run one after another, for the time of one job without the others


def job(job_id: int, url: str) -> JobAssign:
    return JobAssign(job_id=job_id, lease=1, task="probe", url=url, chat_id=1, user_id=1, format_key="", attempt=1)


async def run(args: argparse.Namespace) -> None:
    settings = load_settings(environ={}, env_file=None)
    slots = settings.download_slots_per_worker
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = SandboxProcess(Path(tmp))
        try:
            host, port = sandbox.url.removeprefix("http://").split(":")
            async with open_egress_proxy(Policy.sandbox((host, int(port)))) as proxy:
                engine = Engine(settings, proxy)
                spool = Path(tmp) / "spool"
                took: list[float] = []

                async def one(slot: int, job_id: int) -> None:
                    url = f"{sandbox.url}/media/blob?size={args.size}&n={job_id}"
                    engine.bind(slot, Control())
                    began = time.perf_counter()
                    result = await trio.to_thread.run_sync(
                        engine.probe, slot, job(job_id, url), spool / str(job_id), lambda probe: True
                    )
                    took.append(time.perf_counter() - began)
                    assert isinstance(result, DownloadResult), result

                async def slot_loop(slot: int, ids: list[int]) -> None:
                    for job_id in ids:
                        await one(slot, job_id)

                async def batch(ids: list[int]) -> float:
                    began = time.perf_counter()
                    async with trio.open_nursery() as nursery:
                        for slot in range(slots):
                            nursery.start_soon(slot_loop, slot, ids[slot::slots])
                    return time.perf_counter() - began

                await batch(list(range(WARM_UP)))
                took.clear()
                wall = await batch(list(range(WARM_UP, WARM_UP + args.files)))
                busy_ms = statistics.median(took) * 1000
                took.clear()
                first = WARM_UP + args.files
                await slot_loop(0, list(range(first, first + ALONE)))  # one at a time: the cost of one job
                engine_ms = statistics.median(took) * 1000

            async with httpx.AsyncClient() as http:
                plain = []
                for i in range(30):
                    began = time.perf_counter()
                    (await http.get(f"{sandbox.url}/media/blob?size={args.size}&plain={i}")).raise_for_status()
                    plain.append(time.perf_counter() - began)
            plain_ms = statistics.median(plain) * 1000
        finally:
            sandbox.stop()
    print(f"one downloader, {slots} slots, {args.files} files of {args.size // 1000} kB: "
          f"{args.files / wall:.1f} files/s (goal >= 15)")  # fmt: skip
    result(f"one downloader process, {slots} slots, {args.files} small direct files", args.files / wall, "files/s",
           goal=">= 15", digits=1)  # fmt: skip
    print(f"per job, one at a time: engine {engine_ms:.0f} ms (median) vs a plain GET of the same bytes "
          f"{plain_ms:.1f} ms: yt-dlp, the guard and our checks cost {engine_ms - plain_ms:.0f} ms "
          f"({busy_ms:.0f} ms with every slot busy)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=100_000)
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
