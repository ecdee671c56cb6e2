"""How yt-dlp and ffmpeg are told to use the egress proxy, and what they may not do around it.

yt-dlp sends every request of its own (pages, manifests, fragments, thumbnails, subtitles,
redirect hops) to `params['proxy']`. When it hands a download to ffmpeg (FFmpegFD: live HLS,
HLS features its native downloader lacks), it passes that same proxy in ffmpeg's environment
as `http_proxy`/`HTTP_PROXY` (yt_dlp/downloader/external.py, FFmpegFD._call_downloader), which
ffmpeg's http and tls protocols honour, including for every segment they open. So one option
covers both. What could still go around the proxy is closed here:
- `no_proxy` in our environment would exempt hosts from ffmpeg's proxy: `ffmpeg_env` drops
  it, and `route_process_env()` drops it from the process and points every child at the proxy;
- ffmpeg's other protocols (file, tcp://, udp, rtmp, ...) : a protocol whitelist for inputs;
- yt-dlp downloaders that run programs without the proxy (rtmpdump, mpv for rtsp/mms) and
  external downloaders (aria2c, curl): native downloaders only, and EgressGuardPP refuses
  any format whose protocol is not carried over http(s) before the download starts;
- file:// URLs: disabled.
A reused YoutubeDL keeps the proxy it first used (cached request handlers): `bind_job`
re-points it at another job's proxy URL and guard.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from yt_dlp.postprocessor.common import PostProcessor

from downloader.egress_policy import EgressRefused

__all__ = [
    "ALLOWED_PROTOCOLS",
    "FFMPEG_PROTOCOLS",
    "EgressGuardPP",
    "bind_job",
    "check_formats",
    "ffmpeg_env",
    "ffmpeg_input_args",
    "route_process_env",
    "ytdlp_options",
]

# yt-dlp protocols whose bytes all come through yt-dlp's own HTTP stack (so through the proxy),
# or through ffmpeg's http(s) with the proxy in its environment ("m3u8" without native).
ALLOWED_PROTOCOLS = frozenset({
    "http", "https", "m3u8", "m3u8_native", "http_dash_segments", "http_dash_segments_generator",
    "ism", "f4m", "mhtml",
})  # fmt: skip
# What ffmpeg may open for an input: http and https (tls, tcp and httpproxy beneath them; the
# HLS and DASH demuxers refuse a bare tcp:// segment), AES-128 HLS (crypto) and data: URIs.
FFMPEG_PROTOCOLS = "http,https,tls,tcp,httpproxy,crypto,data"
PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")
NO_PROXY_ENV = ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY")


def ytdlp_options(proxy_url: str) -> dict[str, Any]:
    """The YoutubeDL options fragment every job must use (merge it last, over the engine's)."""
    return {
        "proxy": proxy_url,
        "hls_prefer_native": True,  # HLS fetched by yt-dlp itself, through the proxy
        "external_downloader": {"default": "native"},  # never aria2c, curl, wget...
        "external_downloader_args": {"ffmpeg_i": ["-protocol_whitelist", FFMPEG_PROTOCOLS]},
        "enable_file_urls": False,
    }


def ffmpeg_env(proxy_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for ffmpeg fetching a URL: http(s) through the proxy, no exemptions."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in NO_PROXY_ENV}
    env.update(dict.fromkeys(PROXY_ENV, proxy_url))
    return env


def ffmpeg_input_args(proxy_url: str) -> list[str]:
    """Options to put before ffmpeg's `-i URL`: the proxy and the protocol whitelist."""
    return ["-http_proxy", proxy_url, "-protocol_whitelist", FFMPEG_PROTOCOLS]


def route_process_env(proxy_url: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Send every program this process starts through the proxy; drop proxy exemptions.

    Call once at the downloader's start with a process-wide proxy URL. FFmpegFD copies this
    environment for ffmpeg (and sets the job's own proxy over it); the ffmpeg runs of yt-dlp's
    postprocessors and of media.py get no proxy from yt-dlp, so without this an input that
    turns out to reference URLs (a playlist in disguise) would fetch them directly.
    """
    for name in NO_PROXY_ENV:
        environ.pop(name, None)
    environ.update(dict.fromkeys(PROXY_ENV, proxy_url))


def bind_job(ydl: Any, proxy_url: str, guard: EgressGuardPP | None = None) -> None:
    """Make a (new or reused) YoutubeDL fetch for one job: its options, proxy and guard.

    yt-dlp caches its request handlers with the first proxy it used, so they are dropped here
    and rebuilt on the next request with `proxy_url`. Any earlier job's EgressGuardPP is
    replaced by `guard` (yt-dlp has no public remove, hence `_pps`).
    """
    ydl.params.update(ytdlp_options(proxy_url))
    ydl.__dict__.pop("proxies", None)
    director = ydl.__dict__.pop("_request_director", None)
    if director is not None:
        director.close()
    if guard is not None:
        before = ydl._pps["before_dl"]
        before[:] = [pp for pp in before if not isinstance(pp, EgressGuardPP)]
        ydl.add_post_processor(guard, when="before_dl")


def check_formats(info: Mapping[str, Any]) -> None:
    """Refuse (EgressRefused 'scheme') a chosen format that could be fetched around the proxy."""
    for fmt in info.get("requested_formats") or [info]:
        protocol = str(fmt.get("protocol") or "")
        url = str(fmt.get("url") or "")
        scheme = urlsplit(url).scheme.lower() if url else ""
        if protocol not in ALLOWED_PROTOCOLS:
            raise EgressRefused("scheme", f"format {fmt.get('format_id')} uses {protocol or 'no protocol'}")
        if url and scheme not in ("http", "https"):
            raise EgressRefused("scheme", f"format {fmt.get('format_id')} has a {scheme or 'relative'} URL")


class EgressGuardPP(PostProcessor):
    """yt-dlp 'before_dl' postprocessor: check_formats on what is about to be downloaded.

    Add with `ydl.add_post_processor(pp, when="before_dl")`. It raises EgressRefused itself
    (not a PostProcessingError, which yt-dlp would only report and then download anyway).
    """

    def __init__(self, on_refusal: Callable[[EgressRefused, str], None] | None = None) -> None:
        super().__init__(None)
        self._on_refusal = on_refusal

    def run(self, info: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        try:
            check_formats(info)
        except EgressRefused as exc:
            if self._on_refusal is not None:
                self._on_refusal(exc, _authority(str(info.get("url") or info.get("webpage_url") or "")))
            raise
        return [], info


def _authority(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "?"
