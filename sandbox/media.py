"""Sample media for `/media/`, made locally with ffmpeg's test sources and cached.

`ensure_media(folder)` makes, once per folder: sample.mp4 (H.264 + AAC, a few seconds, one key
frame a second, moov first), sample.webm (VP9 + Opus), audio.m4a, sample.m3u8 with its .ts
segments, the HLS ladder of multi.m3u8 with its WebVTT subtitles in fa and en (see
`sandbox.media_hls`), thumb.jpg, and the pictures of gallery.html (JPEG and PNG, each its own
size: `sandbox.media_gallery.GALLERY_IMAGES`). It builds them
in a scratch folder and renames it into place, so concurrent starts never see half a set.
The routes that serve them are in `sandbox.media_routes`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from sandbox.media_gallery import GALLERY_IMAGES, GalleryImage
from sandbox.media_hls import VARIANTS, Variant, write_master, write_subtitles

log = logging.getLogger(__name__)

MEDIA_VERSION = "3"  # bump when the recipes below change
STAMP = ".complete"
SAMPLE_SECONDS = 4
VIDEO_SIZE = "320x240"
VIDEO_FPS = 25
FFMPEG_TIMEOUT_S = 120.0
AUDIO_KBPS = 64
WEBM_VIDEO_KBPS = 300
WEBM_AUDIO_KBPS = 48
_FFMPEG = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-y")


def long_webm(path: Path, seconds: int) -> list[str]:
    """VP9 + Opus of `seconds`: sample.webm, and `long.webm?seconds=N` (a transcode that lasts,
    for the tests that act while one runs)."""
    return [
        *_FFMPEG,
        "-f", "lavfi", "-i", f"testsrc=size={VIDEO_SIZE}:rate={VIDEO_FPS}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libvpx-vp9", "-b:v", f"{WEBM_VIDEO_KBPS}k", "-deadline", "realtime", "-cpu-used", "8",
        "-pix_fmt", "yuv420p", "-g", str(VIDEO_FPS), "-c:a", "libopus", "-b:a", f"{WEBM_AUDIO_KBPS}k",
        "-shortest", "-f", "webm", str(path),
    ]  # fmt: skip


def _recipes(folder: Path) -> list[list[str]]:
    video = [
        *_FFMPEG,
        "-f", "lavfi", "-i", f"testsrc=size={VIDEO_SIZE}:rate={VIDEO_FPS}:duration={SAMPLE_SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SAMPLE_SECONDS}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(VIDEO_FPS),
        "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(folder / "sample.mp4"),
    ]  # fmt: skip
    audio = [
        *_FFMPEG,
        "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=44100:duration={SAMPLE_SECONDS}",
        "-c:a", "aac", "-b:a", "64k", str(folder / "audio.m4a"),
    ]  # fmt: skip
    hls = [
        *_FFMPEG, "-i", str(folder / "sample.mp4"), "-c", "copy", "-f", "hls", "-hls_time", "1",
        "-hls_list_size", "0", "-hls_segment_filename", str(folder / "sample_%03d.ts"), str(folder / "sample.m3u8"),
    ]  # fmt: skip
    thumb = [
        *_FFMPEG,
        "-i",
        str(folder / "sample.mp4"),
        "-frames:v",
        "1",
        "-vf",
        "scale=160:-2",
        str(folder / "thumb.jpg"),
    ]
    webm = long_webm(folder / "sample.webm", SAMPLE_SECONDS)
    pictures = [_picture(folder, image, hue) for hue, image in enumerate(GALLERY_IMAGES)]
    return [video, audio, hls, thumb, webm, *(_variant(folder, v) for v in VARIANTS), *pictures]


def _picture(folder: Path, image: GalleryImage, number: int) -> list[str]:
    """One picture of the gallery: a frame of the test pattern, its colours turned per picture."""
    size = f"{image.width}x{image.height}"
    return [
        *_FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1", "-frames:v", "1",
        "-vf", f"hue=h={number * 60}", str(folder / image.name),
    ]  # fmt: skip


def _variant(folder: Path, variant: Variant) -> list[str]:
    """One rung of the HLS ladder: its own media playlist and 1-second segments."""
    size = f"{variant.width}x{variant.height}"
    return [
        *_FFMPEG,
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate={VIDEO_FPS}:duration={SAMPLE_SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SAMPLE_SECONDS}",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level:v", "3.1", "-pix_fmt", "yuv420p",
        "-b:v", f"{variant.video_kbps}k", "-maxrate", f"{variant.video_kbps * 3 // 2}k",
        "-bufsize", f"{variant.video_kbps}k", "-g", str(VIDEO_FPS), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-shortest",
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
        "-hls_segment_filename", str(folder / variant.segment_pattern), str(folder / variant.playlist),
    ]  # fmt: skip


def media_ready(folder: Path) -> bool:
    stamp = folder / STAMP
    return stamp.is_file() and stamp.read_text().strip() == MEDIA_VERSION


def ensure_media(folder: Path) -> None:
    """Make the sample files in `folder` unless they are there already (blocking; run in a thread)."""
    if media_ready(folder):
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = folder.parent / f".{folder.name}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        for argv in _recipes(scratch):
            subprocess.run(argv, check=True, timeout=FFMPEG_TIMEOUT_S, capture_output=True)
        write_subtitles(scratch, SAMPLE_SECONDS)
        write_master(scratch, VIDEO_FPS)
        (scratch / STAMP).write_text(MEDIA_VERSION)
        if not media_ready(folder):
            shutil.rmtree(folder, ignore_errors=True)
            try:
                scratch.rename(folder)
            except OSError:
                if not media_ready(folder):  # someone else won the race, or it really failed
                    raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
