"""Where Telegram sees a link in a text: tdlib's `match_urls` and `fix_url` (td/telegram/MessageEntity.cpp),
followed step by step, so that the sandbox's `url` entities end exactly where Telegram's do.

What matters most for Persian text: a link's path runs over every character that is not a
separator, not one of `<>"«»` and not General Punctuation (U+2000-U+206F) other than ZWNJ, ZWJ and
the dashes. So a link stops before « and », but an Arabic comma (،), a Persian question mark (؟),
a ZWNJ glued to it, even Persian letters after a ZWNJ, are inside Telegram's entity. Only ASCII
`.:;,('?!` and dots are trimmed from the end. (Reading the link the user meant is the bot's job:
`gateway/links.py`.) A host without a scheme counts only with a common top-level domain.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["find_urls"]

BAD_PATH_END = ".:;,('?!`"
PATH_STOPS = '\n<>"«»'
USER_DATA_STOPS = "\n/[]{}()'`<>\"@«»"
_ZWNJ_ZWJ = "\u200c\u200d"
_OPENERS, _CLOSERS = "([{", ")]}"
_MAX_PORT = 65535
_MAX_PORT_DIGITS = 5
_MAX_LABEL = 63
_PROTOCOLS = (("https", 8), ("http", 7), ("ftp", 6))  # name, length with "://"
# tdlib's is_email_address: such a match is an e-mail address, not a link
_EMAIL = re.compile(
    r"(?i)([a-z0-9_-]{0,26}[.+]){0,10}[a-z0-9_-]{1,35}@(([a-z0-9][a-z0-9_-]{0,28})?[a-z0-9][.]){1,6}[a-z]{2,8}"
)
_TG_URL = re.compile(r"(?i)(?<![a-z])(?:tg|ton)://[a-z0-9_-]{1,253}")


def _url_symbol(ch: str) -> bool:
    """tdlib's is_url_unicode_symbol: no separator, no General Punctuation but ZWNJ/ZWJ and dashes."""
    if "\u2000" <= ch <= "\u206f":
        return ch in _ZWNJ_ZWJ or "\u2010" <= ch <= "\u2015"
    return not (unicodedata.category(ch).startswith("Z") or ch.isspace())


def _domain_symbol(ch: str) -> bool:
    if ord(ch) < 0xC0:
        return ch == "." or ch == "~" or ch == "-" or ch == "_" or (ch.isascii() and ch.isalnum())
    return _url_symbol(ch)


def _user_data_symbol(ch: str) -> bool:
    return ch not in USER_DATA_STOPS and _url_symbol(ch)


def _path_symbol(ch: str) -> bool:
    return ch not in PATH_STOPS and _url_symbol(ch)


def _protocol_symbol(ch: str) -> bool:
    if ord(ch) < 0x80:
        return ch.isalnum() or ch in "+-"
    return not unicodedata.category(ch).startswith("Z")


def _word_character(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or ch == "_"


def find_urls(text: str, common_tlds: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of each link Telegram would mark in `text`, in order (Python indices)."""
    found = []
    for start, end in _match_urls(text):
        if _EMAIL.fullmatch(text[start:end]):
            continue
        fixed = _fix_url(text[start:end], common_tlds)
        if fixed:
            found.append((start, start + fixed))
    for match in _TG_URL.finditer(text):
        end = _path_end(text, match.end())
        found.append((match.start(), end))
    return sorted(found)


def _path_end(text: str, at: int) -> int:
    """The end of a link whose host ends at `at`: past its path, if one starts there."""
    if at >= len(text) or text[at] not in "/?#":
        return at
    end = at + 1
    while end < len(text) and _path_symbol(text[end]):
        end += 1
    while end > at + 1 and text[end - 1] in BAD_PATH_END:
        end -= 1
    return end if text[at] == "/" or end > at + 1 else at


def _match_urls(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    begin, n = 0, len(text)
    while True:
        dot = text.find(".", begin)
        if dot == -1 or dot + 1 == n:
            return found
        if text[dot + 1] == " ":
            begin = dot + 2
            continue
        start = dot
        while start > begin and _domain_symbol(text[start - 1]):
            start -= 1
        end, last_at = dot, -1
        while end < n and (text[end] == "@" or _domain_symbol(text[end])):
            last_at = end if text[end] == "@" else last_at
            end += 1
        if last_at != -1:
            while start > begin and _user_data_symbol(text[start - 1]):
                start -= 1
        end = _port_end(text, end)
        end = _path_end(text, end)
        while end > dot + 1 and text[end - 1] == ".":
            end -= 1
        bad = False
        if start != begin and text[start - 1] == "@":  # user data before the host: user:password@
            user_start = start - 1
            while user_start > begin and _user_data_symbol(text[user_start - 1]):
                user_start -= 1
            bad = last_at != -1 or user_start == start - 1
            start = user_start
        if start != begin:
            prefix = text[begin:start]
            if len(prefix) >= 6 and prefix.endswith("://"):
                proto_start = start - 3
                while proto_start > begin and _protocol_symbol(text[proto_start - 1]):
                    proto_start -= 1
                protocol = text[proto_start : start - 3].lower()
                length = next((size for name, size in _PROTOCOLS if protocol.endswith(name)), 0)
                if length and protocol not in ("shttp", "sftp", "tftp"):
                    start -= length
                else:
                    bad = True
            else:
                before = prefix[-1]
                bad = _word_character(before) or before in "/#@"
        if not bad:
            if end > dot + 1:
                found.append((start, end))
            while end < n and text[end] == ".":
                end += 1
        else:
            while end > dot + 1 and text[end - 1] != ".":
                end -= 1
        begin = max(end, dot + 1)


def _port_end(text: str, at: int) -> int:
    if at >= len(text) or text[at] != ":":
        return at
    end = at + 1
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    digits = text[at + 1 : end].lstrip("0")
    if digits and len(digits) <= _MAX_PORT_DIGITS and int(digits) <= _MAX_PORT:
        return end
    return at


def _fix_url(url: str, common_tlds: frozenset[str]) -> int:
    """tdlib's fix_url: the length of the valid link at the start of `url`, 0 if it is none."""
    rest, has_protocol = url, False
    if url[:8].lower().startswith(("http://", "https://", "ftp://")):
        rest, has_protocol = url[url.index(":") + 3 :], True
    cut = min([len(rest), *(i for i in (rest.find(c) for c in "/?#") if i != -1)])
    domain, path = rest[:cut], rest[cut:]
    domain = domain.rpartition("@")[2]
    if ":" in domain:
        domain = domain[: domain.rindex(":")]
    if domain.lower() == "teiegram.org":
        return 0
    depth = [0, 0, 0]
    keep = len(path)
    for i, ch in enumerate(path):
        if ch in _OPENERS:
            depth[_OPENERS.index(ch)] += 1
        elif ch in _CLOSERS:
            depth[_CLOSERS.index(ch)] -= 1
            if depth[_CLOSERS.index(ch)] < 0:
                keep = i
                break
    while keep > 0 and path[keep - 1] in BAD_PATH_END:
        keep -= 1
    length = len(url) - (len(path) - keep)
    return length if _valid_domain(domain, has_protocol, common_tlds) else 0


def _valid_domain(domain: str, has_protocol: bool, common_tlds: frozenset[str]) -> bool:
    parts = domain.split(".")
    if len(parts) == 1 or any(not p or len(p) > _MAX_LABEL or p.endswith("-") for p in parts):
        return False
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and _ipv4_part(p) for p in parts):
        return True
    if all(p.isascii() and p.isdigit() for p in parts):
        return False
    tld = parts[-1]
    if len(tld) <= 1:
        return False
    if tld.startswith("xn--"):
        if len(tld) <= 5 or not all(c.isascii() and c.isalnum() for c in tld[4:]):
            return False
    elif "_" in tld or "-" in tld or (not has_protocol and not _common_tld(tld, common_tlds)):
        return False
    return "_" not in parts[-2]


def _common_tld(tld: str, common_tlds: frozenset[str]) -> bool:
    lower = tld.lower()
    if lower != tld and lower[1:] == tld[1:]:  # "Org": a capital first letter only reads as a sentence's start
        return False
    return lower in common_tlds


def _ipv4_part(part: str) -> bool:
    return len(part) <= 3 and int(part) <= 255 and not (part.startswith("0") and len(part) > 1)
