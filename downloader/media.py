"""Files Telegram always plays: H.264/AAC MP4 with the moov atom first, audio, thumbnails.

Why these choices:
- H.264 (8-bit 4:2:0) with AAC in MP4 is the one combination every Telegram client plays inline;
  VP9, AV1, Opus, 10-bit or 4:4:4 H.264 play on some clients and not on others.
- Remux when the codecs already fit (`-c copy`: seconds, no quality lost, bit-exact streams);
  copy the video and re-encode only the audio when just the audio is wrong (Opus next to H.264
  is common); transcode the video only when we must, with a key frame every
  `KEYFRAME_INTERVAL_S` so that `media_split` can cut it.
- faststart (moov before mdat) lets a client start playing before the whole file has arrived
  and is what `supports_streaming` promises; `mp4_faststart` checks it from the top-level boxes.
- All ffmpeg runs go through `downloader.ffmpeg`: local files only (`-protocol_whitelist`,
  `-format_whitelist`), killable, with a stall guard instead of a total timeout.

The functions are synchronous, for `trio.to_thread.run_sync`. Outputs get our own names in the
caller's folder (spool/<job_id>/video.mp4, audio.m4a, ...), never the media's title; each is
written under a temporary name and renamed, so a finished name is always a finished file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from downloader.ffmpeg import (
    STALL_TIMEOUT_S,
    CancelFlag,
    Cancelled,
    MediaError,
    ProgressFn,
    input_args,
    local_url,
    run_ffmpeg,
    run_ffprobe,
)

__all__ = [
    "Cancelled",
    "MediaError",
    "MediaInfo",
    "SendAttributes",
    "inspect",
    "make_audio",
    "make_playable_video",
    "make_thumbnail",
    "mp4_faststart",
    "send_attributes",
    "video_plan",
]

log = logging.getLogger("downloader.media")

Kind = Literal["video", "audio", "other"]
Plan = Literal["keep", "remux", "copy_video", "transcode"]

VIDEO_NAME = "video.mp4"
AUDIO_NAMES = {"m4a": "audio.m4a", "mp3": "audio.mp3"}
PLAYABLE_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
PICTURE_DEMUXERS = frozenset({"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe"})
QUICKTIME_BRAND = "qt"  # major_brand "qt  ": a .mov, not an .mp4
MIN_PROBE_SCORE = 25  # below this ffprobe merely guessed (random bytes named .mp3 score 1)
X264_PRESET = "veryfast"
X264_CRF = 23
KEYFRAME_INTERVAL_S = 2
AAC_BITRATE = "160k"
MP3_VBR_QUALITY = 2  # LAME -V2, about 190 kb/s
# Square pixels, even sizes (4:2:0 needs them); autorotation has already turned portrait upright.
EVEN_SQUARE_SCALE = "scale=trunc(iw*sar/2)*2:trunc(ih/2)*2,setsar=1"
THUMB_MAX_SIDE = 320
THUMB_MAX_BYTES = 200 * 1000  # Telegram: a thumbnail under 200 kB
THUMB_QUALITIES = (2, 5, 10, 18, 31)  # mjpeg -q:v, best first
THUMB_AT_FRACTION = 0.10
THUMB_END_MARGIN_S = 0.5
BOX_HEADER = struct.Struct(">I4s")


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe and the MP4 boxes say about a file. Sizes are display sizes (rotation and
    sample aspect applied), so a portrait phone video reports portrait."""

    kind: Kind
    size: int  # bytes
    container: str | None = None  # ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    brand: str | None = None  # MP4 major brand ("isom", "mp42", "qt")
    vcodec: str | None = None
    acodec: str | None = None
    pix_fmt: str | None = None
    duration: float | None = None  # seconds
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    faststart: bool = False  # MP4 with moov before mdat
    bit_rate: int | None = None
    video_bit_rate: int | None = None
    audio_bit_rate: int | None = None
    video_stream: int | None = None  # absolute stream indexes, for -map
    audio_stream: int | None = None
    has_cover: bool = False  # an audio file with an attached picture
    picture: bool = False  # a still image (jpg/png/webp): kind "other", but a thumbnail source

    @property
    def send_as(self) -> Literal["video", "audio", "document"]:
        """How the uploader sends it: video (supports_streaming), audio, or a plain document."""
        return "document" if self.kind == "other" else self.kind

    @property
    def is_mp4(self) -> bool:
        return bool(self.container and self.container.startswith("mov")) and self.brand != QUICKTIME_BRAND


@dataclass(frozen=True)
class SendAttributes:
    """What a send_video/send_audio call states about the file."""

    duration: int
    width: int
    height: int
    title: str | None
    performer: str | None


# The first bytes of every container the demuxer whitelist (ffmpeg.DEMUXERS) reads: a file that
# starts with none of them cannot be media to ffprobe either, so it goes as a document unprobed
# (an ffprobe costs a process; plain files are common).
_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")  # MP4/MOV at offset 4
_MAGIC = (
    b"\x1a\x45\xdf\xa3",  # Matroska, WebM
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x00\x00\x01\xb3",  # MPEG video
    b"OggS",
    b"fLaC",
    b"RIFF",  # WAV, AVI, WebP
    b"FLV",
    b"ID3",  # MP3 with tags
    b"\x30\x26\xb2\x75",  # ASF, WMV
    b"\x0b\x77",  # AC-3, E-AC-3
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG",
    b"BM",
)
_TS_PACKET = 188
SNIFF_BYTES = _TS_PACKET + 1


def looks_like_media(path: Path) -> bool:
    """Whether `path` may be something ffprobe reads (cheap: its first bytes); False is certain."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if head[4:8] in _BOX_TYPES or head.startswith(_MAGIC):
        return True
    if head[:1] == b"\x47" and (len(head) <= _TS_PACKET or head[_TS_PACKET : _TS_PACKET + 1] == b"\x47"):
        return True  # MPEG-TS: a sync byte every 188 bytes
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # MP3 or AAC frame sync


def inspect(path: Path, *, cancel: CancelFlag | None = None, stall_timeout: float = STALL_TIMEOUT_S) -> MediaInfo:
    """Probe `path`. Anything ffprobe can't read as media is kind "other" (the user still gets it
    as a document); only a missing file raises (FileNotFoundError)."""
    size = path.stat().st_size
    args = ["-print_format", "json", "-show_format", "-show_streams", *input_args(path)]
    try:
        data = json.loads(run_ffprobe(args, cancel=cancel, stall_timeout=stall_timeout))
    except (MediaError, ValueError) as exc:
        log.info("%s is not readable media, it goes as a document: %s", path, exc)
        return MediaInfo(kind="other", size=size)
    return _parse_probe(data, size, mp4_faststart(path))


def _parse_probe(data: Mapping[str, Any], size: int, faststart: bool) -> MediaInfo:
    fmt: Mapping[str, Any] = data.get("format") or {}
    streams: list[Mapping[str, Any]] = list(data.get("streams") or [])
    container = fmt.get("format_name")
    picture_file = container in PICTURE_DEMUXERS
    video = next((s for s in streams if _is_motion_video(s) and not picture_file), None)
    picture = next((s for s in streams if s.get("codec_type") == "video" and _dims(s) != (None, None)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio" and _int(s.get("sample_rate"))), None)
    readable = (_int(fmt.get("probe_score")) or 0) >= MIN_PROBE_SCORE
    kind: Kind = "other"
    if readable and video is not None and None not in _dims(video):
        kind = "video"
    elif readable and audio is not None:
        kind = "audio"
    durations = [_float(fmt.get("duration"))] + [_float(s.get("duration")) for s in streams]
    width, height = _dims(video if video is not None else picture) if kind != "audio" else (None, None)
    brand = str((fmt.get("tags") or {}).get("major_brand", "")).strip() or None
    return MediaInfo(
        kind=kind,
        size=size,
        container=container,
        brand=brand,
        vcodec=video.get("codec_name") if video else None,
        acodec=audio.get("codec_name") if audio else None,
        pix_fmt=video.get("pix_fmt") if video else None,
        duration=next((d for d in durations if d), None) if kind != "other" else None,
        width=width if readable else None,
        height=height if readable else None,
        fps=_rate(video.get("avg_frame_rate") or video.get("r_frame_rate")) if video else None,
        faststart=faststart,
        bit_rate=_int(fmt.get("bit_rate")),
        video_bit_rate=_int(video.get("bit_rate")) if video else None,
        audio_bit_rate=_int(audio.get("bit_rate")) if audio else None,
        video_stream=_int(video.get("index")) if video else None,
        audio_stream=_int(audio.get("index")) if audio else None,
        has_cover=kind == "audio" and any(_attached_pic(s) for s in streams),
        picture=readable and picture_file and picture is not None,
    )


def _is_motion_video(stream: Mapping[str, Any]) -> bool:
    return stream.get("codec_type") == "video" and not _attached_pic(stream)


def _attached_pic(stream: Mapping[str, Any]) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _dims(stream: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """Display width and height: sample aspect ratio applied, then a quarter turn swaps them."""
    if stream is None:
        return None, None
    width, height = _int(stream.get("width")), _int(stream.get("height"))
    if not width or not height:
        return None, None
    sar = _ratio(stream.get("sample_aspect_ratio"))
    if sar and sar != 1:
        width = max(1, round(width * sar))
    if _rotation(stream) % 180 == 90:
        width, height = height, width
    return width, height


def _rotation(stream: Mapping[str, Any]) -> int:
    """Degrees from the display matrix (ffprobe 5+), else the older `rotate` tag."""
    found = [side["rotation"] for side in stream.get("side_data_list") or [] if "rotation" in side]
    raw = found[0] if found else (stream.get("tags") or {}).get("rotate", 0)
    try:
        return round(float(str(raw))) % 360
    except ValueError:
        return 0


def _ratio(text: object) -> Fraction | None:
    try:
        num, den = (int(x) for x in str(text).split(":"))
        return Fraction(num, den) if num > 0 and den > 0 else None
    except ValueError:
        return None


def _rate(text: object) -> float | None:
    try:
        num, _, den = str(text).partition("/")
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 and math.isfinite(value) else None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def mp4_faststart(path: Path) -> bool:
    """True when the file's top-level MP4 boxes put moov before mdat (read from the box headers)."""
    with path.open("rb") as f:
        end = os.fstat(f.fileno()).st_size
        offset = 0
        while offset + BOX_HEADER.size <= end:
            f.seek(offset)
            size, kind = BOX_HEADER.unpack(f.read(BOX_HEADER.size))
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:
                return False  # the box runs to the end of the file
            if size < BOX_HEADER.size:
                return False  # not an MP4 box sequence
            offset += size
    return False


def video_plan(info: MediaInfo) -> Plan:
    """keep (already a faststart H.264/AAC MP4), remux, copy_video (re-encode audio) or transcode."""
    video_ok = info.vcodec == "h264" and info.pix_fmt in PLAYABLE_PIX_FMTS
    if not video_ok:
        return "transcode"
    if info.acodec not in (None, "aac"):
        return "copy_video"
    return "keep" if info.is_mp4 and info.faststart else "remux"


def make_playable_video(
    src: Path,
    out_dir: Path,
    info: MediaInfo,
    cancel: CancelFlag | None = None,
    progress: ProgressFn | None = None,
    *,
    stall_timeout: float = STALL_TIMEOUT_S,
) -> Path:
    """`out_dir/video.mp4`: H.264/AAC, faststart, first video and first audio stream only.
    A file that already fits is moved there untouched; otherwise `src` is left for the caller."""
    if info.kind != "video" or info.video_stream is None:
        raise MediaError(f"not a video: {info.kind}")
    out = out_dir / VIDEO_NAME
    plan = video_plan(info)
    if plan == "keep":
        os.replace(src, out)
        if progress is not None:
            progress(1.0)
        return out
    codecs = {
        "remux": ["-c", "copy"],
        "copy_video": ["-c:v", "copy", "-c:a", "aac", "-b:a", AAC_BITRATE],
        "transcode": [
            *("-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF), "-pix_fmt", "yuv420p"),
            *("-vf", EVEN_SQUARE_SCALE, "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_INTERVAL_S})"),
            *("-c:a", "aac", "-b:a", AAC_BITRATE),
        ],
    }[plan]
    maps = ["-map", f"0:{info.video_stream}"]
    if info.audio_stream is not None:
        maps += ["-map", f"0:{info.audio_stream}"]
    tmp = out_dir / f".{VIDEO_NAME}.part"
    args = [*input_args(src), *maps, *codecs, "-map_metadata", "0", "-map_chapters", "-1"]
    args += ["-max_muxing_queue_size", "1024", "-movflags", "+faststart", "-f", "mp4", local_url(tmp)]
    run_ffmpeg(
        args, outputs=[tmp], duration=info.duration, cancel=cancel, progress=progress, stall_timeout=stall_timeout
    )
    os.replace(tmp, out)
    return out


def make_audio(
    src: Path,
    out_dir: Path,
    fmt: str,
    cancel: CancelFlag | None = None,
    progress: ProgressFn | None = None,
    *,
    info: MediaInfo | None = None,
    title: str | None = None,
    performer: str | None = None,
    stall_timeout: float = STALL_TIMEOUT_S,
) -> Path:
    """`out_dir/audio.m4a` (AAC, copied when it is AAC already) or `audio.mp3` (LAME, copied when
    MP3 already): the first audio stream only, the source's tags kept, title/artist set if given.
    Covers are dropped: the thumbnail travels separately."""
    if fmt not in AUDIO_NAMES:
        raise ValueError(f"audio format {fmt!r}: m4a or mp3")
    info = info or inspect(src, cancel=cancel, stall_timeout=stall_timeout)
    if info.audio_stream is None or info.kind == "other":
        raise MediaError(f"no audio stream ({info.kind})")
    if fmt == "m4a":
        codec = ["-c:a", "copy"] if info.acodec == "aac" else ["-c:a", "aac", "-b:a", AAC_BITRATE]
        muxer = ["-movflags", "+faststart", "-f", "ipod"]
    else:
        codec = ["-c:a", "copy"] if info.acodec == "mp3" else ["-c:a", "libmp3lame", "-q:a", str(MP3_VBR_QUALITY)]
        muxer = ["-id3v2_version", "3", "-f", "mp3"]
    tags: list[str] = []
    if title:
        tags += ["-metadata", f"title={title}"]
    if performer:
        tags += ["-metadata", f"artist={performer}"]
    out = out_dir / AUDIO_NAMES[fmt]
    tmp = out_dir / f".{out.name}.part"
    args = [*input_args(src), "-map", f"0:{info.audio_stream}", "-vn", "-sn", "-dn", *codec]
    args += ["-map_metadata", "0", *tags, *muxer, local_url(tmp)]
    run_ffmpeg(
        args, outputs=[tmp], duration=info.duration, cancel=cancel, progress=progress, stall_timeout=stall_timeout
    )
    os.replace(tmp, out)
    return out


def make_thumbnail(
    source: Path,
    out_path: Path,
    max_side: int = THUMB_MAX_SIDE,
    at_seconds: float | None = None,
    *,
    info: MediaInfo | None = None,
    cancel: CancelFlag | None = None,
    stall_timeout: float = STALL_TIMEOUT_S,
) -> Path | None:
    """A JPEG of at most `max_side` px on its long side (aspect kept, never enlarged) and under
    200 kB, from a picture, an audio file's cover or a video frame (at `at_seconds`, else 10 % in).
    None when there is no picture to take (audio without cover, not media, a broken file)."""
    info = info or inspect(source, cancel=cancel, stall_timeout=stall_timeout)
    seek: list[str] = []
    pick = ["-map", "0:v:0"]  # a picture, or an audio file's cover
    if info.kind == "video" and info.video_stream is not None:
        pick = ["-map", f"0:{info.video_stream}"]
        seek = ["-ss", f"{_thumb_time(info.duration, at_seconds):.3f}"]
    elif not (info.picture or (info.kind == "audio" and info.has_cover)):
        return None
    side = f"min(1\\,{max_side}/max(iw*sar\\,ih))"
    scale = f"scale=w='max(1\\,trunc({side}*iw*sar+0.5))':h='max(1\\,trunc({side}*ih+0.5))',setsar=1"
    tmp = out_path.with_name(f".{out_path.name}.part")
    for attempt_seek in (seek, []) if seek else ([],):
        for quality in THUMB_QUALITIES:
            args = [*attempt_seek, *input_args(source), *pick, "-frames:v", "1", "-vf", scale]
            args += ["-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", str(quality), "-f", "image2", "-update", "1"]
            try:
                run_ffmpeg(
                    [*args, local_url(tmp)], outputs=[tmp], duration=None, cancel=cancel, stall_timeout=stall_timeout
                )
            except MediaError as exc:
                log.info("no thumbnail from %s: %s", source, exc)
                return None
            made = tmp.stat().st_size if tmp.exists() else 0
            if not made:
                break  # the seek went past the last frame: try from the start
            if made < THUMB_MAX_BYTES:
                os.replace(tmp, out_path)
                return out_path
        else:
            break  # too heavy even at the lowest quality
    tmp.unlink(missing_ok=True)
    log.info("no thumbnail from %s: no frame, or none under %d bytes", source, THUMB_MAX_BYTES)
    return None


def _thumb_time(duration: float | None, at_seconds: float | None) -> float:
    wanted = at_seconds if at_seconds is not None else (duration or 0) * THUMB_AT_FRACTION
    if duration:
        wanted = min(wanted, duration - THUMB_END_MARGIN_S)
    return max(0.0, wanted)


def send_attributes(media: MediaInfo, info_dict: Mapping[str, Any] | None = None) -> SendAttributes:
    """Duration, width and height from yt-dlp's info dict, ffprobe's values only where it has
    none; title and performer from the info dict. Pass no info dict for split parts."""
    d: Mapping[str, Any] = info_dict or {}
    duration = _float(d.get("duration")) or media.duration or 0.0
    width, height = _int(d.get("width")), _int(d.get("height"))
    if not (width and height and width > 0 and height > 0):
        width, height = media.width, media.height
    title = d.get("track") or d.get("title")
    performer = d.get("artist") or d.get("creator") or d.get("uploader") or d.get("channel")
    return SendAttributes(
        duration=round(duration),
        width=width or 0,
        height=height or 0,
        title=str(title) if title else None,
        performer=str(performer) if performer else None,
    )
