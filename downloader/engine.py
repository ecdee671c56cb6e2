"""yt-dlp and ffmpeg for one job, in a worker thread: probe a link, or download and prepare it.

Building a `YoutubeDL` costs about 70 ms here, so each slot keeps one and reuses it: the format
selector and the output template are set per job, while the proxy (the egress guard's address
for this slot), the hooks and the rest stay. A job with cookies gets a fresh one (the cookie jar
is read once per object). Cancel and the size cap are raised from the progress hook; only
`sanitize_info()` data leaves this module.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.networking import HEADRequest

from core import formats, metrics
from core.config import MIB, Settings
from core.formats import FORMAT_SORT
from core.media_keys import final_key
from core.start_time import start_of
from downloader import media, subtitles
from downloader.egress import EgressProxy, EgressRefused
from downloader.errors import ClassifiedError, ErrorClass
from downloader.ffmpeg import Cancelled
from downloader.media_split import split_video
from ipc.messages import JobAssign, Probe

log = logging.getLogger("downloader.engine")

MEDIA_STEM = "media"  # spool/<job>/media.<ext>: our name, never the title
THUMB_STEM = "thumb"
COVER_NAME = "cover.jpg"  # the thumbnail sent with the file
CONVERT_STEPS = 1000  # ffmpeg's progress is a fraction; the status shows it as a share of this
YTDLP_RETRIES = 1  # our own retries (JOB_ATTEMPTS, with back-off) do the rest
FRAGMENT_RETRIES = 3  # a lost HLS segment is fetched again before the job fails


@dataclass
class Control:
    """Shared between the job's thread and its trio task: progress out, cancel in."""

    cancel: threading.Event = field(default_factory=threading.Event)
    phase: str = "probing"  # until the first bytes come: yt-dlp is still reading the link
    done_bytes: int = 0
    total_bytes: int = 0
    speed: float = 0.0
    eta: float = 0.0
    last_bytes_at: float = field(default_factory=time.monotonic)
    max_bytes: int = 0

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("the job was cancelled")


@dataclass(frozen=True)
class MediaFile:
    path: Path
    kind: str  # video, audio, document
    size: int
    duration: int = 0
    width: int = 0
    height: int = 0
    thumbnail: Path | None = None
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class ProbeResult:
    media_key: str
    probe: Probe


@dataclass(frozen=True)
class DownloadResult:
    media_key: str
    format_key: str
    probe: Probe
    title: str
    performer: str
    files: list[MediaFile]


def guard_name(slot: int) -> str:
    """Who the egress guard sees fetching: the slot (each slot runs one job at a time)."""
    return f"slot{slot}"


class _Hooked:
    """A pooled YoutubeDL and the control of the job it runs now (its hook reports there)."""

    def __init__(self, ydl: yt_dlp.YoutubeDL, guard: str, cookiefile: Path | None = None) -> None:
        self.ydl = ydl
        self.guard = guard  # the name its fetches go under at the egress guard
        self.cookiefile = cookiefile
        self.control = Control()
        ydl.add_progress_hook(self._hook)

    def _hook(self, status: dict[str, Any]) -> None:
        c = self.control
        c.check()
        if c.phase == "probing":
            c.phase = "downloading"
        done = int(status.get("downloaded_bytes") or 0)
        total = int(status.get("total_bytes") or status.get("total_bytes_estimate") or 0)
        if done != c.done_bytes:
            c.last_bytes_at = time.monotonic()
        c.done_bytes, c.total_bytes = done, total
        c.speed = float(status.get("speed") or 0.0)
        c.eta = float(status.get("eta") or 0.0)
        if c.max_bytes and done > c.max_bytes:
            raise ClassifiedError(f"over the cap of {c.max_bytes // MIB} MiB while downloading", ErrorClass.TOO_LARGE)


class Engine:
    """Runs jobs synchronously (call it from a worker thread); one pooled YoutubeDL per slot."""

    def __init__(self, settings: Settings, egress: EgressProxy | None = None) -> None:
        self.settings = settings
        self.egress = egress  # every fetch goes through the guard (None only in tests of the engine)
        self._pool: dict[int, _Hooked] = {}
        self._lock = threading.Lock()

    def options(self, slot: int) -> dict[str, Any]:
        s = self.settings
        opts: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "cachedir": False,
            "socket_timeout": s.download_stall_s,  # no bytes for this long: a network error, retried
            "retries": YTDLP_RETRIES,
            "fragment_retries": FRAGMENT_RETRIES,
            "extractor_retries": YTDLP_RETRIES,
            "format_sort": list(FORMAT_SORT),
            "merge_output_format": "mp4/mkv",
            "hls_prefer_native": True,  # segments through our own HTTP stack (and its proxy), not ffmpeg
            "extract_flat": "in_playlist",
            "playlistend": s.playlist_max_items,
            "lazy_playlist": True,
            "overwrites": True,
            "continuedl": False,
            "logger": _YtdlpLog(),
        }
        runtime = _deno()
        if runtime:  # YouTube's player needs a JavaScript runtime; deno comes with requirements.txt
            opts["js_runtimes"] = {"deno": {"path": runtime}}
        opts.update(pot_provider_options(s))
        return opts

    def bind(self, slot: int, control: Control, cookiefile: Path | None = None) -> None:
        """Ready the slot for its next job: `control` receives its progress (and cancels it).

        The slot's YoutubeDL is told the egress guard once, under the slot's name (`guard_name`):
        telling it per job would rebuild its request handlers, and their TLS contexts (loading the
        certificates is most of a small job's time). The worker reads the guard's refusals under
        that name for the job the slot runs. A job with cookies gets a YoutubeDL of its own: the
        cookie jar is read once per object."""
        with self._lock:
            hooked = self._pool.get(slot)
            if hooked is None or hooked.cookiefile is not None or cookiefile is not None:
                options = self.options(slot)
                if cookiefile is not None:
                    options["cookiefile"] = str(cookiefile)
                hooked = self._pool[slot] = _Hooked(yt_dlp.YoutubeDL(options), guard_name(slot), cookiefile)
                if self.egress is not None:
                    self.egress.bind(hooked.ydl, guard_name(slot))
        control.max_bytes = self.settings.max_file_bytes
        hooked.control = control

    # ---- the two tasks ---------------------------------------------------------------------

    def probe(
        self, slot: int, job: JobAssign, folder: Path, claim: Callable[[Probe], bool] = lambda probe: False
    ) -> ProbeResult | DownloadResult:
        """What the link holds. When there is nothing to choose (a file that is neither audio nor
        video) and `claim(probe)` agrees (it makes the job a download), the file is fetched at
        once, with no second look at the link."""
        hooked = self._pooled(slot)
        info = self._extract(hooked, job.url)
        probe = formats.probe_from_info(
            info, max_bytes=self.settings.max_file_bytes, playlist_max=self.settings.playlist_max_items
        )
        media_key = final_key(info)
        if probe.kind != "playlist":  # a live stream or one too long is refused now, not after a choice
            self._check_limits(probe)
        if probe.kind == "file" and formats.resolve("file", probe, "") == "file" and claim(probe):
            return self._fetch(hooked, info, probe, media_key, "file", folder)
        return ProbeResult(media_key, probe)

    def download(
        self,
        slot: int,
        job: JobAssign,
        folder: Path,
        audio_format: str,
        on_probe: Callable[[ProbeResult], None] = lambda probed: None,
    ) -> DownloadResult | ProbeResult:
        """Extract, check the limits, download and make it playable. `on_probe` hears what the
        extraction found before the download starts (others waiting for the media use it)."""
        hooked = self._pooled(slot)
        info = self._extract(hooked, job.url)
        probe = formats.probe_from_info(
            info, max_bytes=self.settings.max_file_bytes, playlist_max=self.settings.playlist_max_items
        )
        media_key = final_key(info)
        if probe.kind == "playlist":
            return ProbeResult(media_key, probe)  # the gateway turns it into one job per entry
        on_probe(ProbeResult(media_key, probe))
        key = formats.resolve(job.format_key or "best", probe, audio_format)
        if key is None:
            raise ClassifiedError("no format fits the cap", ErrorClass.TOO_LARGE)
        return self._fetch(hooked, info, probe, media_key, key, folder, job.subtitles, start_of(job.url))

    def _fetch(
        self,
        hooked: _Hooked,
        info: dict[str, Any],
        probe: Probe,
        media_key: str,
        key: str,
        folder: Path,
        wanted_subtitles: str = "",
        start: int = 0,
    ) -> DownloadResult:
        """Download the format `key` of an extracted link and make it playable; with
        `wanted_subtitles` (a language), a video's subtitles come along as an SRT document;
        `start` (a link's `t=`): the thumbnail is the frame at that second."""
        ydl, control = hooked.ydl, hooked.control
        lang = subtitles.language(info, wanted_subtitles) if key.startswith("v:") else None
        ydl.params["writesubtitles"] = lang is not None  # the pooled YoutubeDL: set for every job
        ydl.params["subtitleslangs"] = [lang] if lang else []
        ydl.params["subtitlesformat"] = subtitles.SUBTITLE_FORMATS
        self._check_limits(probe)
        folder.mkdir(parents=True, exist_ok=True)
        ydl.params["outtmpl"] = {
            "default": str(folder / f"{MEDIA_STEM}.%(ext)s"),
            "thumbnail": str(folder / THUMB_STEM),
        }
        ydl.params["writethumbnail"] = bool(probe.thumbnail) and key.startswith("a:")  # an audio's cover
        ydl.format_selector = ydl.build_format_selector(formats.ytdlp_format(key))
        control.check()
        began = time.monotonic()
        done = ydl.process_ie_result(dict(info), download=True)
        self._check_refusals(hooked)
        source = _downloaded_path(done, folder)
        metrics.observe("download_seconds", time.monotonic() - began, platform=_platform(info))
        metrics.count("downloaded_bytes", source.stat().st_size, platform=_platform(info))
        control.check()
        control.phase = "converting"
        began = time.monotonic()
        files = self._prepare(source, folder, key, control, done, start)  # `done`: the chosen format's details
        metrics.observe("convert_seconds", time.monotonic() - began, platform=_platform(info))
        title = str(info.get("title") or "")
        performer = str(info.get("artist") or info.get("uploader") or info.get("channel") or "")
        subtitle = subtitles.found(folder, MEDIA_STEM, lang) if lang else None
        if subtitle is not None:  # part 0: it goes with the video, not as a part of its media
            srt = subtitles.to_srt(subtitle, folder / subtitles.file_name(title, lang or ""))
            files.append(MediaFile(srt, "document", srt.stat().st_size, part=0, parts=1))
        return DownloadResult(media_key, key, probe, title, performer, files)

    def _pooled(self, slot: int) -> _Hooked:
        with self._lock:
            hooked = self._pool.get(slot)
        if hooked is None:
            raise RuntimeError("bind() the slot before running a job on it")
        return hooked

    def _extract(self, hooked: _Hooked, url: str) -> dict[str, Any]:
        hooked.control.check()
        began = time.monotonic()
        info = hooked.ydl.extract_info(url, download=False)
        metrics.observe("probe_seconds", time.monotonic() - began, platform=_platform(info))
        hooked.control.check()
        if not isinstance(info, dict):
            raise yt_dlp.utils.DownloadError(f"no media found at {url!r}")
        sanitized: dict[str, Any] = hooked.ydl.sanitize_info(info)
        if sanitized.get("direct") and not (sanitized.get("filesize") or sanitized.get("filesize_approx")):
            size = _head_size(hooked.ydl, str(sanitized.get("url") or url))
            if size:  # a direct file's size, so that the cap holds before the download and buttons show it
                sanitized["filesize"] = size
        return sanitized

    def _check_refusals(self, hooked: _Hooked) -> None:
        """A fetch the guard refused that yt-dlp went on without (a fragment, an init segment, a
        cover): the file is not what the link promised, and the link aimed somewhere it may not."""
        refused = self.egress.refusals(hooked.guard) if self.egress is not None else []
        if refused:
            raise EgressRefused(refused[0].reason, refused[0].detail)

    def _check_limits(self, probe: Probe) -> None:
        if probe.is_live:
            raise ClassifiedError("a live stream", ErrorClass.LIVE)
        limit_s = self.settings.max_duration_min * 60
        if probe.duration and probe.duration > limit_s:
            raise ClassifiedError(f"{probe.duration:.0f} s is over {limit_s:.0f} s", ErrorClass.TOO_LONG)

    # ---- making it playable ----------------------------------------------------------------

    def _prepare(
        self, source: Path, folder: Path, key: str, control: Control, info: dict[str, Any], start: int = 0
    ) -> list[MediaFile]:
        """The downloaded file as Telegram plays it: an H.264/AAC faststart MP4 (split in parts
        over the upload cap), or the audio, or, for anything ffprobe can't read, a document."""

        def progress(fraction: float) -> None:
            control.done_bytes, control.total_bytes = int(fraction * CONVERT_STEPS), CONVERT_STEPS

        if not media.looks_like_media(source):
            return [_file(source, "document", 0)]
        found = media.inspect(source, cancel=control.cancel)
        attrs = media.send_attributes(found, info)
        if key.startswith("a:") and found.audio_stream is not None and found.kind != "other":
            path = media.make_audio(
                source,
                folder,
                key[2:],
                control.cancel,
                progress,
                info=found,
                title=attrs.title,
                performer=attrs.performer,
            )
            _drop(source, path)
            cover = next((p for p in folder.iterdir() if p.stem == THUMB_STEM), None)
            thumb = media.make_thumbnail(cover, folder / COVER_NAME) if cover else None
            return [_file(path, "audio", attrs.duration, thumbnail=thumb)]
        if found.kind == "video":
            path = media.make_playable_video(source, folder, found, control.cancel, progress)
            _drop(source, path)
            final = media.inspect(path, cancel=control.cancel)
            # A frame of the video itself: a platform's picture may have another aspect ratio.
            at = start if 0 < start < (final.duration or 0) else None  # the moment the link points at
            thumb = media.make_thumbnail(path, folder / COVER_NAME, at_seconds=at, info=final, cancel=control.cancel)
            return self._split_if_needed(path, folder, final, media.send_attributes(final, info), thumb, control)
        if found.kind == "audio":
            return [_file(source, "audio", attrs.duration)]
        return [_file(source, "document", 0)]

    def _split_if_needed(
        self,
        path: Path,
        folder: Path,
        found: media.MediaInfo,
        attrs: media.SendAttributes,
        thumb: Path | None,
        control: Control,
    ) -> list[MediaFile]:
        cap = self.settings.backend_upload_limit_mb * MIB
        if path.stat().st_size <= cap:
            return [_file(path, "video", attrs.duration, attrs.width, attrs.height, thumb)]
        if not self.settings.split_large_files:
            raise ClassifiedError(f"over the upload cap of {cap // MIB} MiB", ErrorClass.TOO_LARGE)
        parts = split_video(path, folder, cap, found, control.cancel, None)
        path.unlink(missing_ok=True)
        out = []
        for number, part in enumerate(parts, 1):
            part_attrs = media.send_attributes(media.inspect(part, cancel=control.cancel))
            size = part.stat().st_size
            out.append(
                MediaFile(
                    part,
                    "video",
                    size,
                    part_attrs.duration,
                    part_attrs.width,
                    part_attrs.height,
                    thumb,
                    number,
                    len(parts),
                )
            )
        return out


@cache
def pot_provider_options(settings: Settings) -> dict[str, Any]:
    """YouTube's PO tokens from a bgutil HTTP server (its yt-dlp plugin is in requirements.txt),
    when YTDLP_POT_PROVIDER_URL names one. Without it the plugins stay unloaded (yt-dlp reads
    YTDLP_NO_PLUGINS when it first loads them), so nothing asks a server nobody started."""
    if not settings.ytdlp_pot_provider_url:
        os.environ.setdefault("YTDLP_NO_PLUGINS", "1")
        return {}
    return {"extractor_args": {"youtubepot-bgutilhttp": {"base_url": [settings.ytdlp_pot_provider_url]}}}


def _deno() -> str | None:
    try:
        import deno

        return str(deno.find_deno_bin())
    except (ImportError, FileNotFoundError):  # the package without its binary fails the same way
        log.warning("no deno: YouTube links may fail (pip install deno)")
        return None


def _head_size(ydl: yt_dlp.YoutubeDL, url: str) -> int | None:
    """Content-Length of a HEAD request (through the same proxy as everything else), if any."""
    try:
        with ydl.urlopen(HEADRequest(url)) as response:
            length = response.headers.get("Content-Length")
    except Exception as exc:  # a server that refuses HEAD: the size stays unknown, the cap still holds
        log.debug("HEAD %s: %s", url, exc)
        return None
    return int(length) if length and length.isdigit() else None


def _platform(info: object) -> str:
    """The metrics' platform label: yt-dlp's extractor."""
    return str(info.get("extractor_key") or "unknown") if isinstance(info, dict) else "unknown"


def _drop(source: Path, kept: Path) -> None:
    """The download once its playable copy exists (a file that needed nothing was moved)."""
    if source != kept:
        source.unlink(missing_ok=True)


def _file(
    path: Path, kind: str, duration: int, width: int = 0, height: int = 0, thumbnail: Path | None = None
) -> MediaFile:
    return MediaFile(path, kind, path.stat().st_size, duration, width, height, thumbnail)


def _downloaded_path(info: dict[str, Any], folder: Path) -> Path:
    for item in info.get("requested_downloads") or []:
        path = item.get("filepath")
        if path and Path(path).is_file():
            return Path(path)
    candidates = [p for p in folder.iterdir() if p.stem == MEDIA_STEM and not p.name.endswith(".part")]
    if candidates:
        return max(candidates, key=lambda p: p.stat().st_size)
    raise yt_dlp.utils.DownloadError("the download left no file")


class _YtdlpLog:
    """yt-dlp's messages go to our log at debug level; its errors become exceptions anyway."""

    def debug(self, msg: str) -> None:
        log.debug("%s", msg)

    def info(self, msg: str) -> None:
        log.debug("%s", msg)

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)
