"""The links in a message: its text or caption, its `url` and `text_link` entities.

A forwarded post is a message like any other here (its text and entities are the post's).
Sources, in the order they appear in the text:
- `url` entities: the text Telegram marked, at UTF-16 offsets; scheme-less ones ("youtu.be/x")
  get https://.
- `text_link` entities: the entity's url, not the text shown.
- http(s):// URLs in the plain text that no url/text_link entity covers (a client or adapter that
  gave no entities, a link inside `code`), cut where Telegram's own detection (tdlib's
  match_urls/fix_url) ends one: at spaces, <>"«», unbalanced brackets, and trailing .:;,('?!`.

Then each link is read as the user meant it (`meant`): Telegram keeps Persian and Arabic punctuation,
ZWNJ and ZWJ inside a link that they end ("…/v/1،", "…/v/1؟", "…/v/1" + ZWNJ), and another client may
hand over a closing « or »; none of these trailing characters belongs to the link.

Scheme and host come back lower-cased. Links are de-duplicated by exact text (different spellings
of one video share a request key and are merged there). Only http and https become jobs; links
with other schemes (ftp://, tg://, mailto:...) come back in `unsupported`, and http(s) links with a
user name or password in `credentials`, so the user can be told why without a job being made (the
downloader's egress guard refuses them anyway, but a cached file would be sent without asking it).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.telegram import Entity

LINK_TYPES = ("url", "text_link")
WEB_SCHEMES = ("http", "https")
DEFAULT_SCHEME = "https"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_OPAQUE_SCHEME = re.compile(r"(mailto|tel|sms|javascript|data|magnet):", re.IGNORECASE)
_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@]*@)?([^/?#]*)(.*)", re.DOTALL)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units each
# tdlib: a URL's host runs over letters, digits, ._~- and non-ASCII symbols (not spaces, not general
# punctuation but ZWNJ/ZWJ and dashes); its path over everything but spaces, <>"«» and the same.
_URL_CHAR_BANS = r"\s\u2000-\u200b\u200e-\u200f\u2016-\u206f"
# An IPv6 literal ("http://[::1]:8080/") is no link to Telegram, but it is taken here all the same,
# so that the egress guard refuses it with its own answer instead of the bot ignoring it.
_PLAIN_URL = re.compile(
    rf"https?://(?:\[[0-9A-Fa-f:.]+\](?::\d+)?|(?:[A-Za-z0-9._~@:-]|[^\x00-\xbf{_URL_CHAR_BANS}])+)"
    rf"(?:[/?#][^<>\"«»{_URL_CHAR_BANS}]*)?",
    re.IGNORECASE,
)
_BAD_PATH_END = ".:;,('?!`"
# Never the last character of a link a person meant: Persian/Arabic comma, semicolon, question mark,
# decimal and thousands separators, full stop; the ellipsis; guillemets; ZWNJ and ZWJ; and what
# Telegram itself trims (exposed once the others are gone).
NOT_A_LINK_END = "،؛؟٫٬۔…«»\u200c\u200d" + _BAD_PATH_END
_OPENERS, _CLOSERS = "([{", ")]}"


@dataclass(frozen=True)
class LinkList:
    links: list[str]  # http(s) links to make jobs of, at most `limit`, in the order of the text
    found: int  # how many distinct http(s) links the message had (more than len(links) if capped)
    unsupported: list[str] = field(default_factory=list)  # distinct links with other schemes
    credentials: list[str] = field(default_factory=list)  # distinct http(s) links with user:password@

    @property
    def refused(self) -> bool:
        """The message had links, all of them refused (it gets their reasons, not the hint)."""
        return bool(self.unsupported or self.credentials)


def find_links(text: str, entities: Sequence[Entity], limit: int) -> LinkList:
    """The message's links; `limit` is MAX_LINKS_PER_MESSAGE."""
    offsets = _Utf16(text)
    found: list[tuple[int, str]] = []  # (position in text, link)
    covered: list[tuple[int, int]] = []  # python index ranges of url/text_link entities
    for entity in entities:
        if entity.type not in LINK_TYPES:
            continue
        span = offsets.span(entity.offset, entity.length)
        if span is not None:
            covered.append(span)
        if entity.type == "text_link":  # its target counts even if its offsets were off
            link, at = entity.url or "", span[0] if span else len(text)
        else:
            link, at = (text[span[0] : span[1]], span[0]) if span else ("", 0)
        if entity.type == "url":
            link = meant(link)
        if link.strip():
            found.append((at, _with_scheme(link.strip())))
    if "://" in text:
        found += _plain_urls(text, covered)
    found.sort(key=lambda item: item[0])
    web: list[str] = []
    other: list[str] = []
    signed: list[str] = []
    for _, link in found:
        bucket = (signed if _has_userinfo(link) else web) if _scheme(link) in WEB_SCHEMES else other
        if link not in bucket:
            bucket.append(link)
    return LinkList(links=web[:limit], found=len(web), unsupported=other, credentials=signed)


def meant(link: str) -> str:
    """The link without the trailing characters that are the sentence's, not the link's."""
    return link.strip().rstrip(NOT_A_LINK_END)


def _scheme(link: str) -> str:
    match = _SCHEME.match(link) or _OPAQUE_SCHEME.match(link)
    return match[1].lower() if match else ""


def _has_userinfo(link: str) -> bool:
    match = _AUTHORITY.match(link)
    return bool(match and match[2])


def _with_scheme(link: str) -> str:
    """Telegram marks "youtu.be/x" as a url too: a link without a scheme is a web link. Scheme and
    host are lower-cased (they are case-insensitive; yt-dlp's URL patterns mostly are not, and
    phones capitalise a message's first letter: "Youtu.be/...")."""
    if not _scheme(link):
        link = f"{DEFAULT_SCHEME}://{link}"
    match = _AUTHORITY.match(link)
    if match is None:
        return link
    scheme, userinfo, host, rest = match.groups()
    return f"{scheme.lower()}{userinfo or ''}{host.lower()}{rest}"


def _plain_urls(text: str, covered: list[tuple[int, int]]) -> list[tuple[int, str]]:
    found = []
    for match in _PLAIN_URL.finditer(text):
        start, end = match.span()
        if any(lo < end and start < hi for lo, hi in covered):
            continue
        url = meant(_trim(match[0]))
        if url.partition("://")[2]:
            found.append((start, _with_scheme(url)))
    return found


def _trim(url: str) -> str:
    """Where Telegram ends a URL it found: before the first unbalanced closing bracket of the path,
    without trailing .:;,('?!` of the path, and without trailing dots."""
    rest = url.partition("://")[2]
    cut = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
    host, path = rest[:cut], rest[cut:]
    if not path:  # "https://x.com:" or "https://x.com@": a colon or at sign Telegram leaves out
        host = host.rstrip(":@")
    depth = [0, 0, 0]
    for i, ch in enumerate(path):
        if ch in _OPENERS:
            depth[_OPENERS.index(ch)] += 1
        elif ch in _CLOSERS:
            depth[_CLOSERS.index(ch)] -= 1
            if depth[_CLOSERS.index(ch)] < 0:
                path = path[:i]
                break
    path = path.rstrip(_BAD_PATH_END)
    return (url[: len(url) - len(rest)] + host + path).rstrip(".")


class _Utf16:
    """Telegram's UTF-16 offsets as Python string indices: only characters beyond the BMP (emoji)
    differ, counting two units; Persian and other BMP text count one, like Python."""

    def __init__(self, text: str) -> None:
        self.length = len(text)
        # UTF-16 offset where each astral character starts (ascending), for bisecting.
        self.astral = [m.start() + k for k, m in enumerate(_ASTRAL.finditer(text))]

    def index(self, unit: int) -> int | None:
        """The Python index at this UTF-16 offset; None inside a surrogate pair or past the end."""
        before = bisect.bisect_left(self.astral, unit)
        if before and self.astral[before - 1] + 1 == unit:
            return None
        index = unit - before
        return index if 0 <= index <= self.length else None

    def span(self, offset: int, length: int) -> tuple[int, int] | None:
        if length <= 0:
            return None
        start, end = self.index(offset), self.index(offset + length)
        return None if start is None or end is None else (start, end)
