"""ffmpeg's side of a download (interim: inspect and pass through; the full module replaces it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FFPROBE_TIMEOUT_S = 30.0
THUMB_MAX_SIDE = 320

Progress = Callable[[float], None]


class MediaError(Exception):
    pass


class Cancelled(Exception):
    pass


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # video, audio, other
    container: str = ""
    vcodec: str = ""
    acodec: str = ""
    duration: float = 0.0
    width: int = 0
    height: int = 0
    faststart: bool = False


def inspect(path: Path) -> MediaInfo:
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=FFPROBE_TIMEOUT_S, check=False)
        info = json.loads(done.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return MediaInfo(kind="other")
    streams = info.get("streams") or []
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and s.get("disposition", {}).get("attached_pic") != 1),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = info.get("format") or {}
    duration = float(fmt.get("duration") or 0.0)
    if video is not None and duration > 0:
        return MediaInfo(
            "video",
            fmt.get("format_name", ""),
            video.get("codec_name", ""),
            (audio or {}).get("codec_name", ""),
            duration,
            int(video.get("width") or 0),
            int(video.get("height") or 0),
        )
    if audio is not None:
        return MediaInfo("audio", fmt.get("format_name", ""), "", audio.get("codec_name", ""), duration)
    return MediaInfo(kind="other")


def make_playable_video(
    src: Path, out_dir: Path, info: MediaInfo, cancel: threading.Event, progress: Progress | None = None
) -> Path:
    out = out_dir / "video.mp4"
    if src != out:
        shutil.move(src, out)
    return out


def make_audio(src: Path, out_dir: Path, fmt: str, cancel: threading.Event, progress: Progress | None = None) -> Path:
    out = out_dir / f"audio.{fmt}"
    if src != out:
        shutil.move(src, out)
    return out


def make_thumbnail(
    source: Path, out_path: Path, max_side: int = THUMB_MAX_SIDE, at_seconds: float | None = None
) -> Path | None:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file,pipe"]
    if at_seconds:
        argv += ["-ss", f"{at_seconds:.2f}"]
    argv += ["-i", str(source), "-frames:v", "1", "-vf",
             f"scale='if(gt(iw,ih),{max_side},-2)':'if(gt(iw,ih),-2,{max_side})'", str(out_path)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=FFPROBE_TIMEOUT_S, check=False)
    return out_path if done.returncode == 0 and out_path.is_file() else None


def split_video(
    src: Path, out_dir: Path, max_bytes: int, info: MediaInfo, cancel: threading.Event, progress: Progress | None = None
) -> list[Path]:
    raise MediaError("splitting is not available yet")
