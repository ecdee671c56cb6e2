"""split_video with real ffmpeg: parts under the cap, each a playable MP4, adding up to the whole."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from downloader.media import Cancelled, MediaError, inspect, mp4_faststart
from downloader.media_split import MOOV_BASE_BYTES, MOOV_BYTES_PER_PACKET, Packets, plan_cuts, split_video
from tests.downloader.media_inputs import assert_playable_mp4, make_video, packets, probe

DURATION_TOLERANCE_S = 0.5


def ten_seconds(tmp_path: Path, keyint: int = 25) -> Path:
    """10 s of H.264/AAC at 25 fps, a key frame every `keyint` frames, faststart."""
    return make_video(tmp_path / "video.mp4", seconds=10, keyint=keyint, faststart=True)


def test_split_into_parts_under_the_cap(tmp_path: Path) -> None:
    src = ten_seconds(tmp_path)
    info = inspect(src)
    max_bytes = info.size // 3
    out = tmp_path / "spool"
    out.mkdir()
    seen: list[float] = []

    parts = split_video(src, out, max_bytes, info, progress=seen.append)

    assert len(parts) >= 3
    assert [p.name for p in parts] == [f"part{i:02d}.mp4" for i in range(1, len(parts) + 1)]
    total = 0.0
    for part in parts:
        assert part.stat().st_size < max_bytes, (part.name, part.stat().st_size, max_bytes)
        probed = assert_playable_mp4(part)
        assert mp4_faststart(part)
        assert packets(part)[0][1].startswith("K"), f"{part.name} starts on a key frame"
        assert float(probed["format"].get("start_time", 0)) < 0.1, "timestamps are reset per part"
        total += float(probed["format"]["duration"])
    original = float(probe(src)["format"]["duration"])
    assert abs(total - original) <= DURATION_TOLERANCE_S, (total, original)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in parts], "nothing else is left"
    assert seen and seen[-1] == 1.0
    assert src.exists()


def test_too_few_key_frames_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    src = ten_seconds(tmp_path, keyint=1000)  # one key frame for the whole clip
    info = inspect(src)
    out = tmp_path / "spool"
    out.mkdir()

    with pytest.raises(MediaError, match="key frames"):
        split_video(src, out, info.size // 3, info)

    assert list(out.iterdir()) == []


def test_a_video_that_is_not_h264_is_refused(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.webm", vcodec="vp9", acodec="opus", seconds=2)
    with pytest.raises(MediaError, match=r"H\.264"):
        split_video(src, tmp_path, 10_000, inspect(src))


def test_a_cancelled_split_leaves_no_parts(tmp_path: Path) -> None:
    src = ten_seconds(tmp_path)
    info = inspect(src)
    out = tmp_path / "spool"
    out.mkdir()
    cancel = threading.Event()

    with pytest.raises(Cancelled):
        split_video(src, out, info.size // 3, info, cancel, progress=lambda _fraction: cancel.set())

    assert list(out.iterdir()) == []


def gops(sizes_kb: list[int], start: float = 0.0) -> Packets:
    """One packet per second, each a key frame of the given size, from `start`."""
    packets = Packets(start=start)
    for second, kb in enumerate(sizes_kb):
        packets.times.append(start + second)
        packets.sizes.append(kb * 1000 - MOOV_BYTES_PER_PACKET)
        packets.keys.append(start + second)
    return packets


def test_cuts_follow_the_bytes_not_the_clock() -> None:
    """A quiet intro and a busy finale: five quiet seconds share a part with two busy ones."""
    cap = 250_000 + MOOV_BASE_BYTES
    assert plan_cuts(gops([10] * 5 + [100] * 5), cap, margin=0) == [7.0, 9.0]
    assert plan_cuts(gops([10] * 5 + [100] * 5, start=1.5), cap, margin=0) == [7.0, 9.0], "relative to the start"
    assert plan_cuts(gops([10] * 5), cap, margin=0) == [], "it fits in one part"


def test_a_key_frame_interval_over_the_cap_is_named() -> None:
    with pytest.raises(MediaError, match=r"too few key frames: the stretch 2\.0-3\.0 s"):
        plan_cuts(gops([10, 10, 400, 10]), 250_000)
