"""gallery-dl, the second engine: an image post or carousel as its items, in order, every fetch
through the egress guard.

    engine = GalleryEngine(settings, egress)               # once per downloader
    post = engine.fetch(url, folder, guard=guard_name(slot), control=control, cookiefile=copy)
    for album in albums(post.items): ...                    # at most 10 items each

`fetch` runs in a worker thread, as yt-dlp does. gallery-dl is used as a library: its extractor
for the site (`site_of(url)` names it; the generic one, which also reads `host:port` links, when
it has none) lists the post's files and text; we fetch each file with the extractor's own session
(its headers, its cookies) and make it a photo, a video or a document (`gallery_media`).

What holds, whatever the extractor does:
- every request goes through the job's egress proxy: the session's proxies are the guard's URL
  for `guard`, the environment is not read, and a request that would go anywhere else (another
  scheme, no proxy) is refused before it is sent and recorded as the guard's refusal;
- gallery-dl's options are the job's own (never its global configuration, which is shared by
  the threads), its cache in memory; an extractor, once made, logs under
  `downloader.gallery.extractor` (at debug what may name URLs);
- the limits of a download: MAX_FILE_MB per file (before and while it comes), MAX_DURATION_MIN
  per video, GALLERY_MAX_ITEMS items (the rest left out, `truncated`), cancel between chunks;
- failures are the downloader's classes (`ClassifiedError`, `EgressRefused`); a file the guard
  refused fails the post even when gallery-dl would go on without it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from gallery_dl import config as gdl_config
from gallery_dl import exception as gdl_exception
from gallery_dl import extractor as gdl_extractor
from gallery_dl.extractor.common import Extractor, Message
from gallery_dl.extractor.generic import GenericExtractor

from core import albums as album_keys
from core import metrics
from core.config import MIB, Settings
from downloader.egress import EgressProxy, EgressRefused
from downloader.engine import Control
from downloader.errors import ClassifiedError, ErrorClass, classify
from downloader.ffmpeg import Cancelled
from downloader.gallery_media import GalleryItem, ItemTooLong, make_item

__all__ = ["MAX_ALBUM_ITEMS", "Gallery", "GalleryEngine", "GalleryItem", "Survey", "albums", "site_of"]

log = logging.getLogger("downloader.gallery")
_extractor_log = logging.getLogger("downloader.gallery.extractor")

MAX_ALBUM_ITEMS = 10  # Telegram's album
MAX_CAPTION_SOURCE_CHARS = 4096  # of the post's text kept (the uploader cuts the caption to 1024)
CHUNK_BYTES = 256 * 1024
MAX_QUEUE_DEPTH = 1  # a post that points at other posts: followed one level
GALLERY_RETRIES = 1  # our own retries (JOB_ATTEMPTS, with back-off) do the rest
# Extractors that take any link: not "a site gallery-dl knows".
CATCH_ALL = frozenset({"generic", "directlink", "recursive", "ytdl", "noop", "test"})
# Where a post's text is, by extractor: the first of these that is set.
VIDEO_EXTENSIONS = frozenset({"mp4", "webm", "mov", "m4v", "mkv", "avi", "3gp", "ts", "m3u8", "mpd"})
TEXT_KEYS = ("description", "content", "caption", "desc", "text", "og_description", "title", "og_title")
STATUS_CLASSES = {
    401: ErrorClass.LOGIN_REQUIRED,
    403: ErrorClass.PRIVATE,
    404: ErrorClass.NOT_FOUND,
    410: ErrorClass.NOT_FOUND,
    429: ErrorClass.RATE_LIMITED,
    451: ErrorClass.GEO_BLOCKED,
}

gdl_config.set(("cache",), "file", ":memory:")  # logins and tokens are never written to disk


class _AnyPortGeneric(GenericExtractor):
    """gallery-dl's generic extractor, for any http(s) link: its own pattern drops a `:port`."""

    pattern = re.compile(
        r"(?i)(?P<generic>)(?P<scheme>https?://)(?P<domain>[-\w.]+(?::\d{1,5})?)"
        r"(?P<path>/[^?#]*)?(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?$"
    )


@dataclass(frozen=True)
class Gallery:
    """A post: its items in order, its text, and gallery-dl's name of the site."""

    items: list[GalleryItem]
    caption: str  # the post's text, "" when it has none
    site: str  # "instagram", "twitter", ... or "generic"
    truncated: bool  # more than GALLERY_MAX_ITEMS items: the first ones are here


@dataclass(frozen=True)
class Survey:
    """A post as its listing tells it, nothing downloaded: each item's kind as its link or
    gallery-dl names it ("video" or "photo"; the download decides), the text, the site."""

    kinds: list[str]
    caption: str
    site: str
    truncated: bool


_finding = threading.Lock()


def _find(url: str) -> Extractor | None:
    """gallery-dl's extractor for `url`. Its lookup walks one generator, shared by every thread,
    that loads the extractor modules on first use: two slots asking at once would both run it
    ("generator already executing"), so one asks at a time."""
    with _finding:
        return gdl_extractor.find(url)


def site_of(url: str) -> str | None:
    """The site gallery-dl has an extractor of its own for (its category), or None."""
    found = _find(url) if url.lower().startswith(("http://", "https://")) else None
    return None if found is None or found.category in CATCH_ALL else str(found.category)


def albums(items: list[GalleryItem]) -> list[list[GalleryItem]]:
    """Items as Telegram albums, in order: photos and videos together, documents only with
    documents, at most MAX_ALBUM_ITEMS each (an album of one goes as a plain message)."""
    out: list[list[GalleryItem]] = []
    for item in items:
        fits = out and len(out[-1]) < MAX_ALBUM_ITEMS and (out[-1][0].kind == "document") == (item.kind == "document")
        if fits:
            out[-1].append(item)
        else:
            out.append([item])
    return out


class _Logs(logging.LoggerAdapter[logging.Logger]):
    """gallery-dl's extractors log here; some call `log.traceback(exc)`."""

    def traceback(self, exc: BaseException) -> None:
        self.debug("extractor traceback", exc_info=exc)


class GalleryEngine:
    def __init__(self, settings: Settings, egress: EgressProxy | None) -> None:
        self.settings = settings
        self.egress = egress  # None only in tests of the engine without a guard

    def fetch(
        self,
        url: str,
        folder: Path,
        *,
        guard: str,
        control: Control | None = None,
        cookiefile: Path | None = None,
        only: str = album_keys.ALL,
    ) -> Gallery:
        """The post at `url` downloaded into `folder` (one subfolder per item), ready to send;
        `only` (`core.albums` keys): its photos, its videos, or everything."""
        control = control or Control()
        job = _Job(self, guard, control, cookiefile)
        with job.classified():
            began = time.monotonic()
            extractor = job.extractor_for(url)
            found, text = job.list_files(extractor)
            platform = str(extractor.category)
            metrics.observe("probe_seconds", time.monotonic() - began, platform=platform)
            truncated = len(found) > self.settings.gallery_max_items
            found = [f for f in found[: self.settings.gallery_max_items] if album_keys.keeps(only, f.kind)]
            began = time.monotonic()
            items = [i for i in job.download(found, folder) if album_keys.keeps(only, i.kind)]
            metrics.observe("download_seconds", time.monotonic() - began, platform=platform)  # with the items' making
            metrics.count("downloaded_bytes", control.done_bytes, platform=platform)
        if not items:
            raise ClassifiedError("no media found in the post", ErrorClass.UNSUPPORTED)
        return Gallery(items, text[:MAX_CAPTION_SOURCE_CHARS], str(extractor.category), truncated)

    def survey(self, url: str, *, guard: str, control: Control | None = None, cookiefile: Path | None = None) -> Survey:
        """What the post at `url` holds, from its listing alone (no item is downloaded)."""
        job = _Job(self, guard, control or Control(), cookiefile)
        with job.classified():
            extractor = job.extractor_for(url)
            found, text = job.list_files(extractor)
        if not found:
            raise ClassifiedError("no media found in the post", ErrorClass.UNSUPPORTED)
        cap = self.settings.gallery_max_items
        kinds = [f.kind for f in found[:cap]]
        return Survey(kinds, text[:MAX_CAPTION_SOURCE_CHARS], str(extractor.category), len(found) > cap)


@dataclass
class _File:
    url: str
    headers: dict[str, str]
    extractor: Extractor  # whose session (headers, cookies) fetches it
    kind: str = "photo"  # as the link tells it ("video" by its extension); the download decides


class _Job:
    """One fetch: its extractors' options, proxy and guard, and what it found."""

    def __init__(self, engine: GalleryEngine, guard: str, control: Control, cookiefile: Path | None) -> None:
        self.settings = engine.settings
        self.egress = engine.egress
        self.guard = guard
        self.control = control
        self.proxy = engine.egress.url_for(guard) if engine.egress is not None else None
        self.secret = self.proxy or ""
        self.options: dict[str, Any] = {
            "retries": GALLERY_RETRIES,
            "timeout": self.settings.download_stall_s,
            "verify": True,
            "proxy-env": False,
            "sleep-429": 0,
            "cookies": str(cookiefile) if cookiefile is not None else None,
            "cookies-update": False,
            "videos": True,
        }

    # ---- extractors -------------------------------------------------------------------------

    def extractor_for(self, url: str) -> Extractor:
        if not url.lower().startswith(("http://", "https://")):
            raise EgressRefused("scheme", "only http and https links")
        found = _find(url)
        if found is None or found.category in CATCH_ALL:
            match = _AnyPortGeneric.pattern.match(url)
            if match is None:
                raise ClassifiedError("not a link gallery-dl reads", ErrorClass.UNSUPPORTED)
            found = _AnyPortGeneric(match)
        return self._configured(found)

    def _configured(self, extractor: Extractor) -> Extractor:
        """The job's options instead of gallery-dl's global ones; its session through the guard."""
        options = self.options
        extractor.config = lambda key, default=None: options.get(key, default)
        extractor.config_accumulate = lambda key: []
        extractor.log = _Logs(_extractor_log, {})
        extractor.initialize()
        session = extractor.session
        session.trust_env = False
        if self.proxy is not None:
            session.proxies = {"http": self.proxy, "https": self.proxy}
            extractor._proxies = dict(session.proxies)
        self._guard_sends(session)
        return extractor

    def _guard_sends(self, session: requests.Session) -> None:
        """Refuse any request (a redirect included) that would not go through the guard's proxy."""
        send, proxy = session.send, self.proxy

        def guarded(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            scheme = urlsplit(request.url or "").scheme.lower()
            chosen = (kwargs.get("proxies") or {}).get(scheme)
            if scheme not in ("http", "https") or (proxy is not None and chosen != proxy):
                refused = EgressRefused("scheme", f"a {scheme or 'schemeless'} request around the guard")
                if self.egress is not None:
                    self.egress.note_refusal(self.guard, refused, urlsplit(request.url or "").netloc)
                raise refused
            self.control.check()
            return send(request, **kwargs)

        session.send = guarded  # type: ignore[method-assign]

    # ---- listing and downloading ------------------------------------------------------------

    def list_files(self, extractor: Extractor) -> tuple[list[_File], str]:
        """The post's files in order (one more than the cap, to know it was cut), and its text."""
        files: list[_File] = []
        texts: list[str] = []
        for url, kwdict, source in self._messages(extractor, depth=0, visited=set()):
            if not texts:
                texts += [str(kwdict[key]).strip() for key in TEXT_KEYS if kwdict.get(key)]
            if not url.lower().startswith(("http://", "https://")):
                log.info("%s: skipping a file gallery-dl would fetch otherwise (%s)", self.guard, url.split(":")[0])
                continue
            extension = str(kwdict.get("extension") or urlsplit(url).path.rpartition(".")[2]).lower()
            kind = "video" if extension in VIDEO_EXTENSIONS else "photo"
            files.append(_File(url, dict(kwdict.get("_http_headers") or {}), source, kind))
            if len(files) > self.settings.gallery_max_items:
                break
        return files, next((text for text in texts if text), "")

    def _messages(
        self, extractor: Extractor, *, depth: int, visited: set[str]
    ) -> Iterator[tuple[str, dict[str, Any], Extractor]]:
        directory: dict[str, Any] = {}
        for message, url, kwdict in extractor.items():
            self.control.check()
            if message == Message.Directory:
                directory = dict(kwdict)
            elif message == Message.Url:
                yield url, {**directory, **kwdict}, extractor
            elif message == Message.Queue and depth < MAX_QUEUE_DEPTH and url not in visited:
                visited.add(url)
                child = self.extractor_for(url)
                yield from self._messages(child, depth=depth + 1, visited=visited)

    def download(self, files: list[_File], folder: Path) -> list[GalleryItem]:
        items: list[GalleryItem] = []
        self.control.phase = "downloading"
        for number, file in enumerate(files, 1):
            self.control.check()
            place = folder / f"{number:02d}"
            place.mkdir(parents=True, exist_ok=True)
            source = self._fetch(file, place / "download")
            self.control.phase = "converting"
            try:
                item = make_item(source, place, self.control.cancel, max_duration_s=self.settings.max_duration_min * 60)
            except ItemTooLong as exc:
                raise ClassifiedError(str(exc), ErrorClass.TOO_LONG) from None
            self.control.phase = "downloading"
            if item is None:
                log.info("%s: item %d of the post is neither a picture nor a video; left out", self.guard, number)
                source.unlink(missing_ok=True)
                continue
            items.append(item)
        return items

    def _fetch(self, file: _File, out: Path) -> Path:
        cap = self.settings.max_file_bytes
        response = file.extractor.request(file.url, stream=True, headers=file.headers or None, interval=False)
        with response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise ClassifiedError(f"an item of {int(length) // MIB} MiB is over the cap", ErrorClass.TOO_LARGE)
            got = 0
            with out.open("wb") as sink:
                for chunk in response.iter_content(CHUNK_BYTES):
                    self.control.check()
                    got += len(chunk)
                    if got > cap:
                        raise ClassifiedError(
                            f"over the cap of {cap // MIB} MiB while downloading", ErrorClass.TOO_LARGE
                        )
                    sink.write(chunk)
                    self.control.done_bytes += len(chunk)
        return out

    @contextmanager
    def classified(self) -> Iterator[None]:
        """Whatever fails inside fails as the downloader's class; a fetch the guard refused, even
        one gallery-dl went on without, fails it as the guard's refusal."""
        try:
            yield
        except (EgressRefused, ClassifiedError, Cancelled):
            raise
        except Exception as exc:
            self.check_refusals()
            raise _classified(exc, self.secret) from exc
        self.check_refusals()

    def check_refusals(self) -> None:
        refused = self.egress.refusals(self.guard) if self.egress is not None else []
        if refused:
            raise EgressRefused(refused[0].reason, refused[0].detail)


def _classified(exc: BaseException, secret: str) -> ClassifiedError:
    """gallery-dl's and requests' failures as the downloader's classes; the proxy never named."""
    reason = f"{type(exc).__name__}: {exc}"
    if secret:
        reason = reason.replace(secret, "<egress>")
    if isinstance(exc, gdl_exception.ChallengeError):
        return ClassifiedError(reason, ErrorClass.BOT_CHECK)
    if isinstance(exc, gdl_exception.HttpError):
        status = exc.status
        cls = STATUS_CLASSES.get(status, ErrorClass.NETWORK if status == 0 or status >= 500 else ErrorClass.EXTRACTOR)
        return ClassifiedError(reason, cls)
    if isinstance(exc, (gdl_exception.AuthenticationError, gdl_exception.AuthRequired)):
        return ClassifiedError(reason, ErrorClass.LOGIN_REQUIRED)
    if isinstance(exc, gdl_exception.AuthorizationError):
        return ClassifiedError(reason, ErrorClass.PRIVATE)
    if isinstance(exc, gdl_exception.NotFoundError):
        return ClassifiedError(reason, ErrorClass.NOT_FOUND)
    if isinstance(exc, gdl_exception.NoExtractorError):
        return ClassifiedError(reason, ErrorClass.UNSUPPORTED)
    if isinstance(exc, requests.RequestException):
        return ClassifiedError(reason, ErrorClass.NETWORK)
    if isinstance(exc, gdl_exception.GalleryDLException):
        return ClassifiedError(reason, ErrorClass.EXTRACTOR)
    return ClassifiedError(reason, classify(exc).cls)  # the disk, ffmpeg, our own bugs
