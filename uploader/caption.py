"""The caption under a sent file, in Telegram's HTML: the title, the part label, the source link and
the signature, within Telegram's 1,024 characters.

Everything that comes from outside (the title, the URL, the signature) is escaped, so a title like
`<b>x</b> & co` shows as typed and never breaks the message. Telegram counts the caption after
entity parsing (what the user sees: tags and the link's href do not count); we count that text in
UTF-16 code units, as Telegram does, so emoji (two units each) cannot push it over. Only the title
is cut, before it is escaped (so never inside an escape), with "…"; the part label, the link and
the signature always stay.
"""

from __future__ import annotations

import html
import unicodedata
from urllib.parse import urlsplit

from core.texts import text

MAX_CAPTION_UNITS = 1024  # Telegram's caption limit, in UTF-16 code units of the visible text
ELLIPSIS = "…"
LINK_SCHEMES = ("http", "https")  # anything else (javascript:, tg:, file:) is not linked
SEPARATOR = "\n"
ZWJ = "\u200d"  # joins emoji into one (a family, a flag with a sign)
VARIATION_SELECTORS = ("\ufe0e", "\ufe0f")
SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))


def utf16_units(value: str) -> int:
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def build_caption(
    title: str | None,
    source_url: str | None,
    signature: str,
    *,
    part: tuple[int, int] | None = None,
    lang: str = "fa",
) -> str:
    """The caption's HTML (parse_mode HTML); its visible text is at most MAX_CAPTION_UNITS long."""
    tail: list[tuple[str, str]] = []  # (html, visible text) of the lines that always stay
    if part is not None:
        label = text(lang, "caption_part", index=part[0], total=part[1])  # numbers in the reader's digits
        tail.append((html.escape(label, quote=False), label))
    link = _link(source_url)
    if link is not None:
        tail.append(link)
    signature = _one_line(signature)
    if signature:
        tail.append(_fitted_signature(signature, tail))
    lines = [markup for markup, _ in tail]
    title = _one_line(title or "")
    room = MAX_CAPTION_UNITS - sum(utf16_units(visible) for _, visible in tail) - utf16_units(SEPARATOR) * len(tail)
    if title and room > utf16_units(ELLIPSIS):
        lines.insert(0, html.escape(_cut(title, room), quote=False))
    return SEPARATOR.join(lines)


def _link(url: str | None) -> tuple[str, str] | None:
    """An `<a>` to an http(s) URL, showing its host; None for anything else."""
    if not url or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed netloc, e.g. an unclosed IPv6 bracket
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not host:
        return None
    shown = host.removeprefix("www.")
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(shown, quote=False)}</a>', shown


def _fitted_signature(signature: str, kept: list[tuple[str, str]]) -> tuple[str, str]:
    """The signature, cut only if a misconfigured one would not fit beside the label and the link."""
    room = MAX_CAPTION_UNITS - sum(utf16_units(visible) + utf16_units(SEPARATOR) for _, visible in kept)
    signature = _cut(signature, max(room, utf16_units(ELLIPSIS)))
    return html.escape(signature, quote=False), signature


def _one_line(value: str) -> str:
    """Whitespace runs (newlines too) as one space, control characters dropped."""
    cleaned = "".join(c for c in value if unicodedata.category(c) != "Cc" or c.isspace())
    return " ".join(cleaned.split())


def _cut(value: str, units: int) -> str:
    """`value` if it fits in `units`, else its longest start that fits with "…", cut between
    whole characters (never inside an emoji sequence or before a combining mark)."""
    if utf16_units(value) <= units:
        return value
    budget, used, end = units - utf16_units(ELLIPSIS), 0, 0
    while end < len(value) and used + utf16_units(value[end]) <= budget:
        used += utf16_units(value[end])
        end += 1
    while end > 0 and (_extends(value[end]) or value[end - 1] == ZWJ):
        end -= 1
    return value[:end].rstrip() + ELLIPSIS


def _extends(char: str) -> bool:
    """Whether `char` belongs to the character before it (a cut must not fall before it)."""
    return char in (ZWJ, *VARIATION_SELECTORS) or unicodedata.category(char).startswith("M") or char in SKIN_TONES
