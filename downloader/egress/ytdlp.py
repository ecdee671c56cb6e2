"""yt-dlp under the guard: the options every job runs with, and a reused YoutubeDL re-pointed.

Ways around the proxy, and what closes each:
- yt-dlp's own HTTP stack (extractors, native HLS/DASH/ISM/F4M downloaders): the `proxy`
  option, per job (`bind_job`);
- downloaders that are other programs (ffmpeg, aria2c, curl, rtmpdump, mpv): native
  downloaders only, and `FormatGuardPP` (formats.py) refuses before the download any format
  that yt-dlp would hand to one of them, and any HLS playlist its native downloader would hand
  to ffmpeg;
- ffmpeg itself, should yt-dlp start it anyway (FFmpegFD) and for its postprocessors (merge,
  fixups): `-protocol_whitelist file,pipe` before every input, so it opens no socket
  (children.py);
- file:// URLs: disabled.
A reused YoutubeDL keeps the proxy it first used (cached request handlers): `bind_job`
re-points it at another job's proxy URL and guard.
"""

from __future__ import annotations

from typing import Any

from yt_dlp.postprocessor import FFmpegPostProcessor

from downloader.egress.children import LOCAL_INPUT_ARGS
from downloader.egress.formats import FormatGuardPP

__all__ = ["bind_job", "ffmpeg_postprocessor_keys", "ytdlp_options"]


def ffmpeg_postprocessor_keys() -> list[str]:
    """`postprocessor_args` keys that reach the inputs of every ffmpeg postprocessor of yt-dlp.

    yt-dlp looks an input's options up as `<pp>+ffmpeg_i` only (a bare `ffmpeg_i` is not
    consulted for postprocessors), so each one is named, from yt-dlp's own class tree."""
    found: set[str] = set()
    todo: list[type[Any]] = [FFmpegPostProcessor]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        found.add(f"{cls.pp_key().lower()}+ffmpeg_i")
    return sorted(found)


def ytdlp_options(proxy_url: str) -> dict[str, Any]:
    """The YoutubeDL options fragment every job must use (merge it last, over the engine's)."""
    local_inputs = list(LOCAL_INPUT_ARGS)
    return {
        "proxy": proxy_url,
        "hls_prefer_native": True,  # HLS fetched by yt-dlp itself, through the proxy
        "external_downloader": {"default": "native"},  # never aria2c, curl, wget, ffmpeg
        "external_downloader_args": {"ffmpeg_i": local_inputs},
        "postprocessor_args": dict.fromkeys(ffmpeg_postprocessor_keys(), local_inputs),
        "enable_file_urls": False,
    }


def bind_job(ydl: Any, proxy_url: str, guard: FormatGuardPP | None = None) -> None:
    """Make a (new or reused) YoutubeDL fetch for one job: its options, proxy and guard.

    yt-dlp caches its request handlers with the first proxy it used, so they are dropped here
    and rebuilt on the next request with `proxy_url`. Any earlier job's FormatGuardPP is
    replaced by `guard` (yt-dlp has no public remove, hence `_pps`).
    """
    ydl.params.update(ytdlp_options(proxy_url))
    ydl.__dict__.pop("proxies", None)
    director = ydl.__dict__.pop("_request_director", None)
    if director is not None:
        director.close()
    if guard is not None:
        before = ydl._pps["before_dl"]
        before[:] = [pp for pp in before if not isinstance(pp, FormatGuardPP)]
        ydl.add_post_processor(guard, when="before_dl")
