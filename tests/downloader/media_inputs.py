"""Small real media for the media tests, made with ffmpeg's lavfi sources (testsrc, sine)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

MAKE_TIMEOUT_S = 120
VIDEO_CODECS = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "h264_444": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"],
    "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"],
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "8"],
}
AUDIO_CODECS = {
    "aac": ["-c:a", "aac", "-b:a", "64k"],
    "opus": ["-c:a", "libopus", "-b:a", "48k"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
}


def ffmpeg_bin() -> str:
    found = shutil.which("ffmpeg")
    if found is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg/ffprobe are missing: install Debian's ffmpeg (apt-get install ffmpeg)")
    return found


def ffmpeg(*args: str) -> None:
    cmd = [ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=MAKE_TIMEOUT_S)


def make_video(
    path: Path,
    *,
    vcodec: str = "h264",
    acodec: str | None = "aac",
    size: str = "320x240",
    seconds: float = 3,
    rate: int = 25,
    keyint: int | None = None,
    faststart: bool = False,
    extra_inputs: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    source: str = "testsrc",
) -> Path:
    """A clip of `source` (and a sine tone); `keyint` frames between key frames (x264, no scene cuts)."""
    args = ["-f", "lavfi", "-i", f"{source}=size={size}:rate={rate}:duration={seconds}"]
    if acodec:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += extra_inputs
    args += VIDEO_CODECS[vcodec]
    if keyint is not None:
        args += ["-g", str(keyint), "-keyint_min", str(keyint), "-sc_threshold", "0"]
    if acodec:
        args += AUDIO_CODECS[acodec]
    if faststart:
        args += ["-movflags", "+faststart"]
    ffmpeg(*args, *extra, str(path))
    return path


def rotated(src: Path, dst: Path, degrees: int) -> Path:
    """A copy of an MP4 whose display matrix turns it by `degrees` (what phones write)."""
    ffmpeg("-i", str(src), "-c", "copy", "-metadata:s:v", f"rotate={degrees}", str(dst))
    return dst


def make_sound(path: Path, *, acodec: str = "aac", seconds: float = 3, cover: Path | None = None) -> Path:
    args = ["-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=44100:duration={seconds}"]
    if cover is not None:
        args += ["-i", str(cover), "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-disposition:v", "attached_pic"]
        args += ["-id3v2_version", "3"] if path.suffix == ".mp3" else []
    ffmpeg(*args, *AUDIO_CODECS[acodec], "-metadata", "title=Source title", str(path))
    return path


def make_image(path: Path, *, size: str = "640x360", noise: bool = False) -> Path:
    """One testsrc frame, or random grey noise (which JPEG compresses worst)."""
    source = f"nullsrc=size={size},geq=random(1)*255:128:128" if noise else f"testsrc=size={size}:rate=1"
    ffmpeg("-f", "lavfi", "-i", source, "-frames:v", "1", "-update", "1", str(path))
    return path


def probe(path: Path) -> dict[str, Any]:
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    done = subprocess.run(cmd, check=True, capture_output=True, timeout=MAKE_TIMEOUT_S)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def stream(path: Path, kind: str) -> dict[str, Any]:
    """The first stream of `kind` ("video" or "audio") ffprobe sees in the file."""
    found = [s for s in probe(path)["streams"] if s["codec_type"] == kind]
    assert found, f"no {kind} stream in {path.name}: {probe(path)['streams']}"
    return found[0]


def packets(path: Path, selector: str = "v:0") -> list[tuple[int, str]]:
    """(size, flags) of every packet of one stream, in file order."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", selector, "-show_entries", "packet=size,flags"]
    done = subprocess.run([*cmd, "-of", "csv=p=0", str(path)], check=True, capture_output=True, timeout=MAKE_TIMEOUT_S)
    rows = [line.split(",") for line in done.stdout.decode().splitlines() if line.strip()]
    return [(int(row[0]), row[1]) for row in rows]


def top_boxes(path: Path) -> list[str]:
    """The top-level MP4 box types, read independently of the code under test."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def assert_playable_mp4(path: Path) -> dict[str, Any]:
    """H.264 (8-bit 4:2:0) video, AAC or no audio, in an MP4 whose moov comes before mdat."""
    info = probe(path)
    assert info["format"]["format_name"].startswith("mov"), info["format"]
    assert info["format"]["tags"]["major_brand"].strip() != "qt"
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p"), video
    for s in info["streams"]:
        assert s["codec_type"] in ("video", "audio"), f"an extra stream: {s}"
        if s["codec_type"] == "audio":
            assert s["codec_name"] == "aac", s
    boxes = top_boxes(path)
    assert "moov" in boxes and boxes.index("moov") < boxes.index("mdat"), boxes
    return info
