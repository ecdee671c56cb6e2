"""Canonical media keys: one cache entry per piece of media, however its link was spelled.

A key is `"<extractor key>:<id>"` for sites whose yt-dlp extractor has a media id
(`youtu.be/ID` and `youtube.com/watch?v=ID&si=...` are both `Youtube:ID`), else `"url:<URL>"` with
the URL normalised (see `normalize_url`): two files with the same name on different hosts never
share a key. The cache key is (media key, format key); format keys are not made here.

- `request_key(url)`: from the URL alone, no network: the extractor yt-dlp would choose (its own
  `suitable()`, in its own order, first match wins, Generic last) and its `get_temp_id(url)`.
- `final_key(info)`: from a probe's info dict. yt-dlp's generic extractor follows HTTP and meta
  refresh redirects by returning a `url_result` for the target, so the info's `webpage_url` holds
  the URL it ended at (on a direct file it is the file's URL, on an og:video page the page's URL;
  `url` is the media itself and `original_url` the user's link). A redirect and its target thus
  get the same key. The gateway stores request key -> media key in `media_aliases`.

Speed and memory: the extractor yt-dlp would choose, and its id, come from `core.extractor_index`,
a table of yt-dlp's extractors that answers without importing yt-dlp (prepare it at start, in a
thread).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

from core.extractor_index import GENERIC
from core.extractor_index import index as _index

log = logging.getLogger("media_keys")

URL_KEY_PREFIX = "url:"

# ---- URL normalisation (the generic key) --------------------------------------------------------

# Query parameters that only say where a click came from; they never select content. Compared
# lower-cased. Deliberately absent: feature, ref, source, s, t, share, spm (content on some sites).
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "igsh", "si", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src",
        "ref_url", "oly_anon_id", "oly_enc_id", "rb_clickid", "vero_id", "wickedid", "__s",
    }
)  # fmt: skip
DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_KEEP = "!#$%&'()*+,/:;=?@[]~"  # reserved characters and '%': left as they are by quote()


def _component(text: str) -> str:
    """Non-ASCII and unsafe characters percent-encoded (UTF-8, as browsers send them); escapes of
    unreserved characters decoded and the others upper-cased (RFC 3986 6.2.2)."""
    if not text.isascii() or " " in text:
        text = quote(text, safe=_KEEP)
    if "%" not in text:
        return text
    return _PERCENT.sub(lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in _UNRESERVED else "%" + m[1].upper(), text)


def _is_tracking(param: str) -> bool:
    name = unquote_plus(param.partition("=")[0]).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _host(host: str) -> str:
    host = host.rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN: keep the lower-cased text, the fetch will fail anyway
        return host


def normalize_url(url: str) -> str:
    """The URL as a key: scheme and host lower-cased, host in IDNA, default port, fragment and
    tracking parameters dropped, the other parameters kept in their order, empty path as '/'."""
    try:
        parts = urlsplit(url.strip())
        hostname, port = parts.hostname or "", parts.port
    except ValueError:  # a bad port or bracket: keep what we can, lower-cased, without a fragment
        return url.strip().split("#", 1)[0].lower()
    scheme = parts.scheme.lower()
    userinfo = parts.netloc.rpartition("@")[0]
    host = _host(hostname)
    netloc = ("[" + host + "]") if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    if userinfo:
        netloc = userinfo + "@" + netloc
    query = "&".join(_component(p) for p in parts.query.split("&") if p and not _is_tracking(p))
    path = _component(parts.path) or "/"
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


# ---- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaRef:
    key: str  # 'Youtube:dQw4w9WgXcQ' or 'url:https://example.com/v.mp4'
    platform: str  # yt-dlp extractor key that would handle the URL; 'Generic' when none does
    media_id: str | None  # the extractor's id, None for URL keys


def request_key(url: str) -> MediaRef:
    """The canonical key of a link, from the URL alone (no network). Builds the index on first
    use if `prepare()` has not."""
    try:
        found = _index().find(url)
    except Exception as exc:  # a pattern or an extractor's own code choking on a URL
        log.warning("no extractor match for a link (%s: %s); keyed by its URL", type(exc).__name__, exc)
        found = None
    if found is None:
        return MediaRef(URL_KEY_PREFIX + normalize_url(url), GENERIC, None)
    platform, media_id = found.key, found.media_id
    if not media_id:
        return MediaRef(URL_KEY_PREFIX + normalize_url(url), platform, None)
    return MediaRef(f"{platform}:{media_id}", platform, str(media_id))


def final_key(info: Mapping[str, Any]) -> str:
    """The canonical key of what a probe found (a yt-dlp info dict, sanitised or not)."""
    extractor, media_id = info.get("extractor_key"), info.get("id")
    if extractor and extractor != GENERIC and media_id:
        return f"{extractor}:{media_id}"
    url = info.get("webpage_url") or info.get("original_url") or info.get("url")
    if not url:
        raise ValueError("info has neither an extractor id nor a webpage_url")
    return URL_KEY_PREFIX + normalize_url(str(url))
