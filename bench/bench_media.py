"""Cost of the media steps on this machine: remux vs audio re-encode vs full transcode, a split,
and how long a cancel takes to stop a transcode.

Usage: .venv/bin/python bench/bench_media.py [--seconds 20] [--size 640x360] [--runs 3]

Inputs are made with ffmpeg's lavfi sources (testsrc2, sine) in a temporary folder: an H.264/AAC
MP4 without faststart (remuxed), an MKV with H.264 and Opus (video copied, audio to AAC) and a
VP9/Opus WebM (transcoded). Figures are the median wall time of `--runs` runs. No issue sets a
goal for them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from downloader.media import Cancelled, inspect, make_playable_video, video_plan  # noqa: E402
from downloader.media_split import split_video  # noqa: E402
from tests.downloader.media_inputs import make_video  # noqa: E402

TABLE_ARGS = ["--runs", "1"]  # `make bench`
CANCEL_AFTER_S = 1.0
CANCEL_WAIT_S = 60.0


def timed(runs: int, step: Callable[[Path], object], work: Path) -> float:
    times = []
    for run in range(runs):
        out = work / f"run{run}"
        out.mkdir()
        began = time.monotonic()
        step(out)
        times.append(time.monotonic() - began)
        shutil.rmtree(out)
    return statistics.median(times)


def cancel_latency(src: Path, work: Path) -> float:
    out = work / "cancel"
    out.mkdir()
    cancel = threading.Event()
    stopped: list[float] = []

    def run() -> None:
        try:
            make_playable_video(src, out, inspect(src), cancel)
        except Cancelled:
            stopped.append(time.monotonic())

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(CANCEL_AFTER_S)  # a benchmark, not a test: let the transcode get going
    asked = time.monotonic()
    cancel.set()
    worker.join(CANCEL_WAIT_S)
    return stopped[0] - asked if stopped else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    try:
        common = {"seconds": opts.seconds, "size": opts.size, "source": "testsrc2"}
        inputs = {
            "remux (h264/aac mp4)": make_video(work / "a.mp4", keyint=50, **common),
            "audio only (h264/opus mkv)": make_video(work / "b.mkv", acodec="opus", **common),
            "transcode (vp9/opus webm)": make_video(work / "c.webm", vcodec="vp9", acodec="opus", **common),
        }
        video = f"{opts.seconds:g} s of {opts.size}"
        print(f"{video} at 25 fps, median of {opts.runs}")
        for label, src in inputs.items():
            info = inspect(src)
            took = timed(opts.runs, lambda out, s=src, i=info: make_playable_video(s, out, i), work)  # type: ignore[misc]
            print(f"  {label:30} plan={video_plan(info):10} {took:6.2f} s  ({opts.seconds / took:6.1f}x real time)")
            result(f"ffmpeg on {video}: {label}", took, "s", note=f"{opts.seconds / took:.1f}x real time")
        src = inputs["remux (h264/aac mp4)"]
        info = inspect(src)
        took = timed(opts.runs, lambda out: split_video(src, out, info.size // 3, info), work)
        print(f"  {'split in thirds (stream copy)':30} {'':15} {took:6.2f} s")
        result(f"ffmpeg on {video}: split in thirds (stream copy)", took, "s")
        latency = cancel_latency(inputs["transcode (vp9/opus webm)"], work)
        print(f"  cancel of a transcode: stopped {latency:.2f} s after")
        result("a cancelled transcode stops after", latency, "s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
