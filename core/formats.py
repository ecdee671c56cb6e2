"""Format choices: what a probe offers, what a user's choice means, and how yt-dlp is asked for it.

Keys (the cache key of a file is its media key and one of these):
- `v:<height>`: a video of that height; `v:best` when the source tells no heights (a direct file);
- `a:m4a`, `a:mp3`: the audio only;
- `file`: neither audio nor video, sent as a document.
What a user asks for may also be `best` (the highest video that fits the cap) or `audio` (audio in
the user's audio format); `resolve` turns a request into a key with the probe's findings. The
gateway and the downloaders both call it, so they always agree on the key of a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ipc.messages import FormatChoice, PlaylistEntry, Probe

VIDEO_EXTS = frozenset({"mp4", "webm", "mkv", "mov", "m4v", "avi", "flv", "3gp", "ts", "mpg", "mpeg", "ogv", "wmv"})
AUDIO_EXTS = frozenset({"m4a", "mp3", "ogg", "opus", "oga", "wav", "flac", "aac", "weba", "mka", "wma"})
AUDIO_FORMATS = ("m4a", "mp3")
# The qualities a playlist offers for all its entries (their own formats are not probed one by one).
PLAYLIST_HEIGHTS = (720, 480, 360)
# What a user may keep as a default in /settings.
DEFAULT_CHOICES = ("ask", "best", "v:1080", "v:720", "v:480", "v:360", "audio")
REQUESTS = ("best", "audio", "file")  # besides the keys themselves
ASK = "ask"
MAX_SUBTITLE_LANGUAGES = 50  # listed of a video's subtitles (a few sites list hundreds)


def audio_key(audio_format: str) -> str:
    return f"a:{audio_format}"


def height_of(key: str) -> int | None:
    if key.startswith("v:") and key[2:].isdigit():
        return int(key[2:])
    return None


def is_valid_request(value: str) -> bool:
    if value in REQUESTS or value in ("v:best", "a:m4a", "a:mp3"):
        return True
    height = height_of(value)
    return height is not None and 0 < height <= 10_000


# ---- what a probe found ---------------------------------------------------------------------------


def probe_from_info(info: Mapping[str, Any], *, max_bytes: int, playlist_max: int) -> Probe:
    """Our summary of a yt-dlp info dict (after `sanitize_info`): kind, title, choices that fit."""
    title = str(info.get("title") or "")
    platform = str(info.get("extractor_key") or info.get("ie_key") or "")
    uploader = str(info.get("uploader") or info.get("channel") or "")
    thumbnail = str(info.get("thumbnail") or "")
    webpage_url = str(info.get("webpage_url") or info.get("url") or "")
    if info.get("_type") in ("playlist", "multi_video") or "entries" in info:
        entries = [e for e in (info.get("entries") or []) if isinstance(e, Mapping)]
        listed = [
            PlaylistEntry(url=str(e.get("url") or e.get("webpage_url")), title=str(e.get("title") or ""))
            for e in entries
            if e.get("url") or e.get("webpage_url")
        ]
        offered = [FormatChoice(key="best"), *(FormatChoice(key=f"v:{h}", height=h) for h in PLAYLIST_HEIGHTS)]
        return Probe(
            kind="playlist",
            title=title,
            platform=platform,
            uploader=uploader,
            thumbnail=thumbnail,
            webpage_url=webpage_url,
            choices=[*offered, FormatChoice(key="audio")],
            entries=listed[:playlist_max],
            entry_count=int(info.get("playlist_count") or len(listed)),
        )
    formats = [f for f in (info.get("formats") or [info]) if isinstance(f, Mapping)]
    duration = float(info.get("duration") or 0.0)
    kind = _kind(info, formats)
    choices: list[FormatChoice] = []
    if kind == "file":
        choices = [FormatChoice(key="file", size=_size(info, duration))]
    else:
        audio = _best_audio_size(formats, duration)
        if kind == "video":
            choices = _video_choices(formats, duration, audio)
        audio_size = audio or (_size(info, duration) if kind == "audio" else 0)
        choices.append(FormatChoice(key="audio", size=audio_size))
    # Only what fits the cap is offered (a size unknown until the download is checked during it).
    choices = [c for c in choices if not c.size or c.size <= max_bytes]
    subtitles = info.get("subtitles")
    return Probe(
        kind=kind,
        title=title,
        platform=platform,
        subtitles=sorted(subtitles)[:MAX_SUBTITLE_LANGUAGES]
        if isinstance(subtitles, Mapping) and kind == "video"
        else [],
        duration=duration,
        is_live=bool(info.get("is_live")),
        uploader=uploader,
        thumbnail=thumbnail,
        webpage_url=webpage_url,
        choices=choices,
    )


def _kind(info: Mapping[str, Any], formats: Sequence[Mapping[str, Any]]) -> str:
    if any(_has_video(f) for f in formats):
        return "video"
    if formats and all(f.get("vcodec") == "none" and f.get("acodec") not in (None, "none") for f in formats):
        return "audio"
    ext = str(info.get("ext") or "").lower()
    if ext in VIDEO_EXTS:
        return "video"
    if ext in AUDIO_EXTS:
        return "audio"
    return "file"


def _has_video(f: Mapping[str, Any]) -> bool:
    return f.get("vcodec") not in (None, "none") or bool(f.get("height"))


def _size(f: Mapping[str, Any], duration: float) -> int:
    size = f.get("filesize") or f.get("filesize_approx")
    if not size and f.get("tbr") and duration:
        size = float(f["tbr"]) * 1000 / 8 * duration
    return int(size or 0)


def _best_audio_size(formats: Sequence[Mapping[str, Any]], duration: float) -> int:
    audio = [f for f in formats if f.get("vcodec") == "none" and f.get("acodec") not in (None, "none")]
    sizes = [_size(f, duration) for f in audio]
    return max(sizes, default=0)


def _video_choices(formats: Sequence[Mapping[str, Any]], duration: float, audio_size: int) -> list[FormatChoice]:
    """One choice per height: the largest format of that height (plus the audio it lacks)."""
    by_height: dict[int, int] = {}
    for f in formats:
        height = f.get("height")
        if not height or not _has_video(f):
            continue
        size = _size(f, duration)
        if size and f.get("acodec") == "none":
            size += audio_size
        by_height[int(height)] = max(by_height.get(int(height), 0), size)
    if not by_height:
        return [FormatChoice(key="v:best", size=_size(formats[0], duration) if len(formats) == 1 else 0)]
    return [FormatChoice(key=f"v:{h}", height=h, size=size) for h, size in sorted(by_height.items(), reverse=True)]


# ---- what a choice means ----------------------------------------------------------------------


def resolve(request: str, probe: Probe, audio_format: str) -> str | None:
    """The key of the file to deliver for `request` given the probe; None if nothing fits."""
    keys = [c.key for c in probe.choices]
    if probe.kind == "file":
        return "file" if "file" in keys else None
    audio = audio_key(audio_format)
    if request in ("audio", "a:m4a", "a:mp3"):
        wanted = audio if request == "audio" else request
        return wanted if "audio" in keys else None
    if probe.kind == "audio":
        return audio if "audio" in keys else None
    videos = [c for c in probe.choices if c.key.startswith("v:")]
    if not videos:
        return None
    if request in ("best", "v:best", "file"):
        return videos[0].key
    asked = height_of(request)
    if asked is None:
        return None
    fitting = [c for c in videos if c.height and c.height <= asked]
    return (fitting[0] if fitting else videos[-1]).key


def choice_keys(probe: Probe, audio_format: str) -> list[str]:
    """The buttons to offer, in order: the choices with `audio` made concrete."""
    return [audio_key(audio_format) if c.key == "audio" else c.key for c in probe.choices]


def ytdlp_format(key: str) -> str:
    """yt-dlp's format selector for a key; H.264/AAC are preferred by the sort order (see below)."""
    height = height_of(key)
    if height is not None:
        return f"bv*[height={height}]+ba/b[height={height}]/bv*[height<={height}]+ba/b[height<={height}]/bv*+ba/b"
    if key.startswith("a:"):
        ext = key[2:]
        return f"ba[ext={ext}]/ba[acodec^=mp4a]/ba/b" if ext == "m4a" else "ba/b"
    return "bv*+ba/b"


# Among formats the selector allows, prefer what Telegram plays without transcoding.
FORMAT_SORT = ("vcodec:h264", "acodec:aac", "ext:mp4:m4a")
