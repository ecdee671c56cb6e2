"""Which formats yt-dlp may download under the guard: checked before the download starts.

Every byte must come through yt-dlp's own HTTP stack, so through the egress proxy. Before a
format is downloaded (`FormatGuardPP`, a 'before_dl' postprocessor), for it and for each of the
formats to merge:
- its protocol is one that yt-dlp fetches itself over http(s), and its URL and its fragments'
  URLs (DASH) are http or https: else EgressRefused "scheme" (rtmp, rtsp, mms...);
- the downloader yt-dlp would pick is one of its native ones (`NATIVE_DOWNLOADERS`): else
  StreamNeedsFfmpeg. yt-dlp hands some formats to ffmpeg to fetch (a live HLS or DASH stream,
  cut sections, `m3u8` when not native), and ffmpeg would connect around the proxy;
- for HLS, the media playlist is read now, through the proxy, and every URI in it (segments,
  `EXT-X-KEY`, `EXT-X-MAP`) must be http or https. A playlist that yt-dlp's native downloader
  would hand to ffmpeg at download time (SAMPLE-AES and other key methods, DRM) is refused with
  StreamNeedsFfmpeg. The text read is given to the downloader (`hls_media_playlist_data`), so
  the playlist checked is the playlist downloaded: a server cannot answer differently twice.
ffmpeg could not fetch even if yt-dlp ran it (its inputs are whitelisted to `file,pipe`, see
`children.py`); these checks make the refusal come first, with the right words for the user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from yt_dlp.dependencies import Cryptodome
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.dash import DashSegmentsFD
from yt_dlp.downloader.f4m import F4mFD
from yt_dlp.downloader.hls import HlsFD
from yt_dlp.downloader.http import HttpFD
from yt_dlp.downloader.ism import IsmFD
from yt_dlp.downloader.mhtml import MhtmlFD
from yt_dlp.networking import Request
from yt_dlp.postprocessor.common import PostProcessor
from yt_dlp.utils import urljoin

from downloader.egress.targets import EgressRefused
from downloader.errors import ClassifiedError, ErrorClass

__all__ = ["ALLOWED_PROTOCOLS", "NATIVE_DOWNLOADERS", "FormatGuardPP", "StreamNeedsFfmpeg", "check_formats"]

# yt-dlp protocols whose bytes all come through yt-dlp's own HTTP stack (so through the proxy).
ALLOWED_PROTOCOLS = frozenset({
    "http", "https", "m3u8", "m3u8_native", "http_dash_segments", "http_dash_segments_generator",
    "ism", "f4m", "mhtml",
})  # fmt: skip
# yt-dlp's downloaders that fetch through its HTTP stack themselves; never FFmpegFD and friends.
NATIVE_DOWNLOADERS = frozenset({HttpFD, HlsFD, DashSegmentsFD, IsmFD, F4mFD, MhtmlFD})
HLS_PROTOCOLS = frozenset({"m3u8", "m3u8_native"})
WEB_SCHEMES = frozenset({"http", "https"})
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_PROTOCOL_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.,-]*):")  # a URL scheme, or ffmpeg's protocol syntax


class StreamNeedsFfmpeg(ClassifiedError):
    """A format only ffmpeg could fetch (which would connect around the guard): not downloaded."""

    error_class = ErrorClass.STREAM_UNSUPPORTED


def check_formats(info: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Refuse a chosen format that would be fetched around the proxy (see the module's notes)."""
    for fmt in _formats(info):
        name = f"format {fmt.get('format_id')}"
        protocol = str(fmt.get("protocol") or "")
        if protocol not in ALLOWED_PROTOCOLS:
            raise EgressRefused("scheme", f"{name} uses {protocol or 'no protocol'}")
        if fmt.get("url"):
            _check_uri(name, str(fmt["url"]))
        for fragment in fmt.get("fragments") or ():
            raw = fragment.get("url") or fragment.get("path")
            _check_uri(f"a fragment of {name}", str(raw or ""), fmt.get("fragment_base_url"))
        _check_downloader(name, fmt, params)
    if info.get("requested_formats") and get_suitable_downloader(dict(info), dict(params)) is not None:
        _check_downloader("the formats to merge", info, params)  # ffmpeg would fetch and merge them


def _check_downloader(name: str, fmt: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    downloader = get_suitable_downloader(dict(fmt), dict(params))
    if downloader not in NATIVE_DOWNLOADERS:
        shown = getattr(downloader, "__name__", "no downloader")
        raise StreamNeedsFfmpeg(f"{name} ({fmt.get('protocol')}) would be fetched by {shown}")


def check_hls_playlist(name: str, manifest_url: str, text: str, fmt: Mapping[str, Any]) -> None:
    """Refuse a media playlist that names a non-web URI, or that yt-dlp would give to ffmpeg."""
    for line in text.splitlines():
        line = line.strip()
        uris = _URI_ATTRIBUTE.findall(line) if line.startswith("#") else [line] if line else []
        for uri in uris:
            _check_uri(f"a URI in the playlist of {name}", uri, manifest_url)
    needs_ffmpeg = not HlsFD.can_download(text, dict(fmt)) or (
        "#EXT-X-KEY:METHOD=AES-128" in text and not Cryptodome.AES  # HlsFD would ask ffmpeg to decrypt
    )
    if needs_ffmpeg:
        raise StreamNeedsFfmpeg(f"the playlist of {name} needs ffmpeg (encryption, DRM or live)")


def _check_uri(name: str, uri: str, base: str | None = None) -> None:
    """Refuse `uri` unless it is an http(s) URL, or a relative one that joins `base` into one. A
    URI that names another protocol as ffmpeg spells them (`subfile,,start,0,end,0,,:URL`,
    `concat:URL|URL`) is refused too, though a URL parser would take it for a relative path."""
    named = _PROTOCOL_PREFIX.match(uri)
    if named is not None:
        scheme = named.group(1).lower()
    else:  # relative: where the downloader will fetch it from
        joined = urljoin(base, uri) if base else None
        try:
            scheme = urlsplit(joined).scheme.lower() if joined else ""
        except ValueError:
            scheme = ""
    if scheme not in WEB_SCHEMES:
        raise EgressRefused("scheme", f"{name} has a {scheme[:40] or 'relative'} URL")


def _formats(info: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from info.get("requested_formats") or [info]


class FormatGuardPP(PostProcessor):
    """yt-dlp 'before_dl' postprocessor: check_formats, and the HLS playlists read and checked.

    Add with `ydl.add_post_processor(pp, when="before_dl")`. It raises EgressRefused and
    StreamNeedsFfmpeg itself (not a PostProcessingError, which yt-dlp would only report and then
    download anyway). `on_refusal(exc, where)` hears each EgressRefused first.
    """

    def __init__(self, on_refusal: Callable[[EgressRefused, str], None] | None = None) -> None:
        super().__init__(None)
        self._on_refusal = on_refusal

    def run(self, info: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        try:
            check_formats(info, self._downloader.params if self._downloader else {})
            for fmt in _formats(info):
                if fmt.get("protocol") in HLS_PROTOCOLS:
                    self._read_playlist(fmt)
        except EgressRefused as exc:
            if self._on_refusal is not None:
                self._on_refusal(exc, _authority(str(info.get("url") or info.get("webpage_url") or "")))
            raise
        return [], info

    def _read_playlist(self, fmt: dict[str, Any]) -> None:
        """Fetch the media playlist (as yt-dlp's HlsFD would), check it, and hand it on."""
        name = f"format {fmt.get('format_id')}"
        text = fmt.get("hls_media_playlist_data")
        if not text:
            assert self._downloader is not None, "the guard runs inside a YoutubeDL"
            headers = fmt.get("http_headers") or {}
            with self._downloader.urlopen(Request(fmt["url"], headers=headers)) as response:
                fmt["url"] = response.url  # segments are relative to where a redirect led
                text = response.read().decode("utf-8", "ignore")
            fmt["hls_media_playlist_data"] = text
        check_hls_playlist(name, str(fmt["url"]), text, fmt)


def _authority(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "?"
