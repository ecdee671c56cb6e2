"""What Telegram learns from a file by itself: a video's size, length and codecs, whether an MP4
can start playing before it is whole (moov before mdat), a picture's dimensions."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path
from typing import Any

import trio

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 15.0
IMAGE_HEADER_BYTES = 64 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BOX_HEADER_BYTES = 8
MAX_TOP_BOXES = 64
JPEG_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


async def probe_av(path: Path) -> dict[str, int | str]:
    """duration (s), width, height, video_codec and audio_codec of an audio or video file (the
    keys ffprobe could tell; {} when it can't read the file)."""
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)]
    try:
        with trio.fail_after(PROBE_TIMEOUT_S):
            done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    except (OSError, trio.TooSlowError) as exc:
        log.warning("ffprobe of %s failed: %s", path.name, exc)
        return {}
    if done.returncode != 0:
        return {}
    try:
        info: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {}
    found: dict[str, int | str] = {}
    duration = info.get("format", {}).get("duration")
    if duration is not None:
        try:
            found["duration"] = round(float(duration))
        except ValueError:
            pass
    for stream in info.get("streams", []):
        kind = stream.get("codec_type")
        if kind == "video" and stream.get("disposition", {}).get("attached_pic"):
            continue  # cover art, not the video
        if kind == "video" and "width" in stream:
            found.setdefault("width", int(stream["width"]))
            found.setdefault("height", int(stream["height"]))
        if kind in ("video", "audio") and stream.get("codec_name"):
            found.setdefault(f"{kind}_codec", str(stream["codec_name"]))
    return found


def mp4_faststart(path: Path) -> bool | None:
    """True when an MP4/MOV file's moov box comes before its mdat (it can play while it downloads),
    False when after, None when the file is not an MP4 (no ftyp box first) or has no boxes."""
    order: list[bytes] = []
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            offset = 0
            while offset + BOX_HEADER_BYTES <= size and len(order) < MAX_TOP_BOXES:
                f.seek(offset)
                header = f.read(BOX_HEADER_BYTES)
                length, kind = struct.unpack(">I4s", header)
                if length == 1:  # a 64-bit size follows the type
                    (length,) = struct.unpack(">Q", f.read(8))
                elif length == 0:  # the box runs to the end of the file
                    length = size - offset
                if not order and kind != b"ftyp":
                    return None
                order.append(kind)
                if kind in (b"moov", b"mdat"):
                    return kind == b"moov"
                if length < BOX_HEADER_BYTES:
                    return None
                offset += length
    except OSError as exc:
        log.warning("reading the boxes of %s failed: %s", path.name, exc)
    return None


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG from its first bytes, else None."""
    if head.startswith(PNG_SIGNATURE) and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(head):
        if head[i] != 0xFF:
            i += 1
            continue
        marker = head[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if marker in JPEG_SOF_MARKERS:
            height, width = struct.unpack(">HH", head[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def read_head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(IMAGE_HEADER_BYTES)
