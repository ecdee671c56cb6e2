"""What the programs the downloader starts may reach: local files and pipes, and no proxy.

Only the egress proxy fetches (for yt-dlp's own HTTP stack). Every program the downloader starts
works on local files: ffmpeg and ffprobe get `-protocol_whitelist file,pipe` before each input
(`LOCAL_INPUT_ARGS`: ours in `downloader/ffmpeg.py`, yt-dlp's through its options, see
`ytdlp.py`), which leaves them no protocol that opens a socket, in whatever a hostile file names
(an HLS or DASH playlist in disguise, `httpproxy://`, `tcp://`, `concat:`...). yt-dlp's own
ffprobe runs take no options; they open `file:` paths, and ffmpeg lets what a `file:` input names
open only file, crypto and data (the file protocol's default whitelist), none of them a socket.

No child gets a proxy from the environment either (`clear_proxy_env` at the downloader's start,
`without_proxies` for each run): a program that tried to fetch would find no address to use.
The one exception is yt-dlp's JavaScript runtime (deno, for YouTube), which yt-dlp gives the
job's proxy URL; deno runs without network permission (`--no-remote`, no `--allow-net`), and
what it could fetch would still pass the guard.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

__all__ = ["LOCAL_INPUT_ARGS", "LOCAL_PROTOCOLS", "PROXY_VARIABLES", "clear_proxy_env", "without_proxies"]

LOCAL_PROTOCOLS = "file,pipe"
LOCAL_INPUT_ARGS = ("-protocol_whitelist", LOCAL_PROTOCOLS)
# Variables through which programs (curl, ffmpeg, deno, Python's urllib...) find a proxy.
PROXY_VARIABLES = frozenset({
    "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy", "socks_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY", "NO_PROXY", "SOCKS_PROXY",
})  # fmt: skip


def without_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `environ` (this process's by default) with no proxy variable in it."""
    return {k: v for k, v in (os.environ if environ is None else environ).items() if k not in PROXY_VARIABLES}


def clear_proxy_env(environ: MutableMapping[str, str] = os.environ) -> None:
    """Drop every proxy variable from this process's environment, so from every child's."""
    for name in PROXY_VARIABLES:
        environ.pop(name, None)
