"""Message entities as Telegram computes them: offsets and lengths in UTF-16 code units.

Telegram finds URLs, @mentions, #hashtags, /commands and e-mail addresses in every text by itself
(for users' messages and for the bot's own); `detect` does the same, leaving alone what a
formatting entity (code, pre, text_link) already covers. Links end where tdlib ends them
(`sandbox/urls.py`).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.urls import find_urls

Entity = dict[str, Any]

# Formatting entities inside which Telegram finds nothing more.
OPAQUE_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})
# Bare domains are recognised only with a known top-level domain (Telegram checks a long list).
BARE_TLDS = frozenset(
    {"com", "org", "net", "io", "be", "me", "ir", "ru", "tv", "co", "app", "dev", "gg", "ly", "to", "fm", "uk", "de"}
    | {"fr", "info", "xyz", "site", "online", "link", "video", "ai", "us", "ca", "in"}
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{2,31}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters beyond the BMP count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _utf16_offsets(text: str) -> list[int] | None:
    """Map code point index -> UTF-16 offset, or None when the two agree (no astral characters)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return None
    offsets, unit = [], 0
    for ch in text:
        offsets.append(unit)
        unit += 2 if ord(ch) > 0xFFFF else 1
    offsets.append(unit)
    return offsets


def detect(text: str, existing: list[Entity]) -> list[Entity]:
    """`existing` plus the entities Telegram detects on its own, sorted as Telegram sorts them."""
    offsets = _utf16_offsets(text)
    taken = [(e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in OPAQUE_TYPES]
    found: list[Entity] = []
    spans = [("email", m.span()) for m in _EMAIL.finditer(text)]
    spans += [("url", span) for span in find_urls(text, BARE_TLDS)]
    spans += [(kind, m.span()) for kind, pattern in _DETECTORS for m in pattern.finditer(text)]
    for kind, (start, end) in spans:
        lo, hi = (offsets[start], offsets[end]) if offsets else (start, end)
        if hi <= lo or any(lo < b and a < hi for a, b in taken):
            continue
        taken.append((lo, hi))
        found.append({"type": kind, "offset": lo, "length": hi - lo})
    return sort_entities(existing + found)


def sort_entities(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Drop leading and trailing whitespace like Telegram, moving and clipping entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    head = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        lo = max(entity["offset"] - head, 0)
        hi = min(entity["offset"] + entity["length"] - head, total)
        if hi > lo:
            kept.append({**entity, "offset": lo, "length": hi - lo})
    return stripped, kept
