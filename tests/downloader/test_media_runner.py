"""The ffmpeg runner: a cancel stops ffmpeg quickly and removes its output, a stuck input is a
stall, a failure carries ffmpeg's own words, progress is paced."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from downloader.ffmpeg import PROGRESS_INTERVAL_S, Cancelled, MediaError
from downloader.media import MediaInfo, inspect, make_playable_video
from tests.downloader.media_inputs import make_video

FIRST_PROGRESS_TIMEOUT_S = 60.0
CANCEL_BOUND_S = 5.0  # the promise is 2 s; the bound tolerates a loaded machine
TRICKLE_S = 3.0
TRICKLE_BYTES = 8192
TRICKLE_EVERY_S = 0.1
FORGED = MediaInfo(kind="video", size=1, vcodec="h264", pix_fmt="yuv420p", video_stream=0, duration=10.0)


def ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() in ("ffmpeg", "ffprobe")]


def test_cancel_stops_a_slow_transcode_and_removes_the_partial_output(tmp_path: Path) -> None:
    # 720p MPEG-4 Part 2: cheap to make, several seconds of libx264 to transcode
    src = make_video(tmp_path / "big.avi", vcodec="mpeg4", acodec=None, size="1280x720", seconds=10)
    info = inspect(src)
    out = tmp_path / "spool"
    out.mkdir()
    cancel = threading.Event()
    started = threading.Event()
    outcome: list[BaseException | Path] = []

    def work() -> None:
        try:
            outcome.append(make_playable_video(src, out, info, cancel, progress=lambda _f: started.set()))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert started.wait(FIRST_PROGRESS_TIMEOUT_S), "the transcode never reported progress"
        assert list(out.iterdir()), "the transcode is writing its partial output"
        cancel.set()
        asked = time.monotonic()
        worker.join(CANCEL_BOUND_S)
        took = time.monotonic() - asked
    finally:
        cancel.set()
        worker.join(FIRST_PROGRESS_TIMEOUT_S)
    assert not worker.is_alive() and took < CANCEL_BOUND_S, f"still running {took:.1f} s after the cancel"
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled), outcome
    assert list(out.iterdir()) == [], "the partial output is removed"
    assert ffmpeg_children() == []


def test_a_stuck_input_is_a_stall(tmp_path: Path) -> None:
    """A FIFO that gets half a file and then nothing: ffmpeg waits forever; the guard stops it."""
    clip = make_video(tmp_path / "clip.ts", seconds=2)
    fifo = tmp_path / "stuck.ts"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # held open: the reader sees no end of file
    try:
        os.write(writer, clip.read_bytes()[:4096])
        out = tmp_path / "spool"
        out.mkdir()
        began = time.monotonic()
        with pytest.raises(MediaError, match="stalled"):
            make_playable_video(fifo, out, FORGED, stall_timeout=1.0)
        assert time.monotonic() - began < CANCEL_BOUND_S + 1.0
        assert list(out.iterdir()) == []
        assert ffmpeg_children() == []
    finally:
        os.close(writer)


def test_an_input_that_still_delivers_bytes_is_not_a_stall(tmp_path: Path) -> None:
    """ffmpeg reads a slow trickle for longer than the stall timeout without reporting progress
    (it is still probing): reading is life. When the trickle stops, the guard fires."""
    fifo = tmp_path / "slow.ts"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    stop = threading.Event()

    def trickle() -> None:
        ends = time.monotonic() + TRICKLE_S
        while time.monotonic() < ends and not stop.is_set():
            os.write(writer, bytes(TRICKLE_BYTES))
            stop.wait(TRICKLE_EVERY_S)

    feeder = threading.Thread(target=trickle)
    out = tmp_path / "spool"
    out.mkdir()
    began = time.monotonic()
    feeder.start()
    try:
        with pytest.raises(MediaError, match="stalled"):
            make_playable_video(fifo, out, FORGED, stall_timeout=1.0)
        took = time.monotonic() - began
    finally:
        stop.set()
        feeder.join(CANCEL_BOUND_S)
        os.close(writer)
    assert took >= TRICKLE_S, f"stalled after {took:.2f} s while bytes were still coming"
    assert list(out.iterdir()) == []


def test_a_failure_carries_ffmpegs_last_error_lines(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mp4", seconds=2)  # moov at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "spool"
    out.mkdir()

    with pytest.raises(MediaError) as caught:
        make_playable_video(cut, out, FORGED)

    assert "moov atom not found" in caught.value.stderr_tail
    assert list(out.iterdir()) == []


def test_progress_is_paced_and_rises_to_one(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.webm", vcodec="vp9", acodec="opus", size="640x360", seconds=6)
    out = tmp_path / "spool"
    out.mkdir()
    calls: list[tuple[float, float]] = []

    began = time.monotonic()
    make_playable_video(src, out, inspect(src), progress=lambda f: calls.append((time.monotonic(), f)))
    took = time.monotonic() - began

    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    assert len(calls) <= took / PROGRESS_INTERVAL_S + 2, f"{len(calls)} calls in {took:.2f} s"
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(calls[:-1])]  # the last is the final 1.0
    assert all(gap >= PROGRESS_INTERVAL_S * 0.9 for gap in gaps), gaps
