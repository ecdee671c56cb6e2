"""A downloaded item of an image post made into what Telegram shows: a photo, a playable video,
or (what Telegram cannot show as a photo) a document.

Photos stay photos when Telegram takes them as they are: JPEG or PNG, at most PHOTO_MAX_BYTES,
width + height at most PHOTO_MAX_SIDES_SUM (Telegram's photo limits). Any other picture ffprobe
reads (WebP, BMP, a huge PNG) becomes a JPEG whose long side is at most PHOTO_MAX_SIDE (what
Telegram keeps of a photo anyway). A picture more than PHOTO_MAX_RATIO times longer than wide
is refused as a photo by Telegram (PHOTO_INVALID_DIMENSIONS), so it goes as a document. Videos go
through the same H.264/AAC rules as every download (`downloader.media`), with a frame as their
thumbnail; anything else (audio, GIF, text) is not an album item (None).

Synchronous, for a worker thread; every ffmpeg run is local-only (`downloader.ffmpeg`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from downloader import media
from downloader.ffmpeg import CancelFlag, MediaError, input_args, local_url, run_ffmpeg

log = logging.getLogger("downloader.gallery")

ItemKind = Literal["photo", "video", "document"]
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # Telegram: a photo of at most 10 MB
PHOTO_MAX_SIDES_SUM = 10_000  # Telegram: width + height at most 10000
PHOTO_MAX_RATIO = 20  # Telegram: one side at most 20 times the other
PHOTO_MAX_SIDE = 2560  # the largest size Telegram keeps of a photo
PHOTO_JPEG_QUALITY = 2  # mjpeg -q:v of a converted picture (best is 2)
PHOTO_MAGIC = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
COVER_NAME = "cover.jpg"


@dataclass(frozen=True)
class GalleryItem:
    """One item of a post, ready to send: its kind, file and what the send states about it."""

    kind: ItemKind
    path: Path
    size: int
    width: int = 0
    height: int = 0
    duration: int = 0  # seconds (videos)
    thumbnail: Path | None = None  # a video's frame


class ItemTooLong(Exception):
    """A video of the post lasts longer than the limit."""


def _photo_format(path: Path) -> str | None:
    with path.open("rb") as f:
        head = f.read(8)
    return next((ext for magic, ext in PHOTO_MAGIC.items() if head.startswith(magic)), None)


def make_item(source: Path, folder: Path, cancel: CancelFlag, *, max_duration_s: float) -> GalleryItem | None:
    """`source` (a downloaded file) as an item in `folder` (its own); None when it is not one."""
    if not media.looks_like_media(source):
        return None
    found = media.inspect(source, cancel=cancel)
    if found.picture:
        return _photo(source, folder, found, cancel)
    if found.kind == "video":
        return _video(source, folder, found, cancel, max_duration_s)
    return None


def _photo(source: Path, folder: Path, found: media.MediaInfo, cancel: CancelFlag) -> GalleryItem:
    width, height = found.width or 0, found.height or 0
    if min(width, height) > 0 and max(width, height) > PHOTO_MAX_RATIO * min(width, height):
        return GalleryItem("document", source, source.stat().st_size, width, height)
    ext = _photo_format(source)
    fits = found.size <= PHOTO_MAX_BYTES and width + height <= PHOTO_MAX_SIDES_SUM
    if ext is not None and fits:
        kept = source.with_name(f"photo{ext}")
        os.replace(source, kept)
        return GalleryItem("photo", kept, kept.stat().st_size, width, height)
    jpeg = to_jpeg(source, folder / "photo.jpg", cancel)
    source.unlink(missing_ok=True)
    converted = media.inspect(jpeg, cancel=cancel)
    return GalleryItem("photo", jpeg, jpeg.stat().st_size, converted.width or 0, converted.height or 0)


def to_jpeg(source: Path, out: Path, cancel: CancelFlag) -> Path:
    """A JPEG of `source`'s first frame, its long side at most PHOTO_MAX_SIDE (never enlarged)."""
    side = f"min(1\\,{PHOTO_MAX_SIDE}/max(iw*sar\\,ih))"
    scale = f"scale=w='max(2\\,trunc({side}*iw*sar/2)*2)':h='max(2\\,trunc({side}*ih/2)*2)',setsar=1"
    tmp = out.with_name(f".{out.name}.part")
    args = [*input_args(source), "-map", "0:v:0", "-frames:v", "1", "-vf", scale, "-pix_fmt", "yuvj420p"]
    args += ["-c:v", "mjpeg", "-q:v", str(PHOTO_JPEG_QUALITY), "-f", "image2", "-update", "1", local_url(tmp)]
    run_ffmpeg(args, outputs=[tmp], duration=None, cancel=cancel)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise MediaError(f"no picture from {source.name}")
    os.replace(tmp, out)
    return out


def _video(
    source: Path, folder: Path, found: media.MediaInfo, cancel: CancelFlag, max_duration_s: float
) -> GalleryItem:
    if found.duration and found.duration > max_duration_s:
        raise ItemTooLong(f"a video of {found.duration:.0f} s is over {max_duration_s:.0f} s")
    path = media.make_playable_video(source, folder, found, cancel)
    if source != path:
        source.unlink(missing_ok=True)
    final = media.inspect(path, cancel=cancel)
    thumb = media.make_thumbnail(path, folder / COVER_NAME, info=final, cancel=cancel)
    attrs = media.send_attributes(final)
    return GalleryItem("video", path, path.stat().st_size, attrs.width, attrs.height, attrs.duration, thumb)
