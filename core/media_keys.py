"""Canonical media keys (interim: the indexed, tested module replaces it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING = ("utm_", "si", "fbclid", "gclid", "igshid", "igsh")


@dataclass(frozen=True)
class MediaRef:
    key: str
    platform: str
    media_id: str | None


def normalize(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def _tracking(name: str) -> bool:
    return any(name == t or (t.endswith("_") and name.startswith(t)) for t in TRACKING)


@cache
def _extractors() -> list[Any]:
    from yt_dlp.extractor import gen_extractor_classes

    return [ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic"]


def request_key(url: str) -> MediaRef:
    for ie in _extractors():
        if ie.suitable(url):
            media_id = ie.get_temp_id(url)
            if media_id:
                return MediaRef(f"{ie.ie_key()}:{media_id}", ie.ie_key(), media_id)
            return MediaRef("url:" + normalize(url), ie.ie_key(), None)
    return MediaRef("url:" + normalize(url), "Generic", None)


def final_key(info: Mapping[str, Any]) -> str:
    extractor = str(info.get("extractor_key") or "Generic")
    if extractor != "Generic" and info.get("id"):
        return f"{extractor}:{info['id']}"
    return "url:" + normalize(str(info.get("webpage_url") or info.get("url") or ""))
