"""The sandbox marks links where Telegram does: cases from tdlib's own test of `find_urls`
(test/message_entities.cpp, those whose domains the sandbox's short list of common TLDs knows),
then the Persian messages of issue 21, as the sandbox gives them to the bot."""

from __future__ import annotations

import pytest

from sandbox.entities import BARE_TLDS, detect
from sandbox.urls import find_urls

TDLIB_CASES = [
    ("telegram.org", ["telegram.org"]),
    ("(telegram.org)", ["telegram.org"]),
    ("\ntelegram.org)", ["telegram.org"]),
    (".telegram.org)", []),
    ("()telegram.org/?q=()", ["telegram.org/?q=()"]),
    ('"telegram.org"', ["telegram.org"]),
    (" telegram. org. www. com... telegram.org... ...google.com...", ["telegram.org"]),
    ("Такой сайт: http://www.google.com или такой telegram.org ", ["http://www.google.com", "telegram.org"]),
    (" telegram.org. ", ["telegram.org"]),
    ("http://google,.com", []),
    ("http://telegram.org/?asd=123#123.", ["http://telegram.org/?asd=123#123"]),
    ("[http://google.com](test)", ["http://google.com"]),
    ("http://@google.com", []),
    ("http://@@google.com", []),
    ("http://a@google.com", ["http://a@google.com"]),
    ("google.com:᪉᪉᪉᪉᪉", ["google.com"]),
    ("ftp://telegram.org", ["ftp://telegram.org"]),
    ("ftps://telegram.org", []),
    ("sftp://telegram.org", []),
    ("hTtPs://telegram.org", ["hTtPs://telegram.org"]),
    ("аHTTP://telegram.org", ["HTTP://telegram.org"]),
    ("sHTTP://telegram.org", []),
    ("://telegram.org", []),
    (",ahttp://google.com", ["http://google.com"]),
    (".ahttp://google.com", []),
    ("http://1.0", []),
    ("http://a.a", []),
    ("google.com:1#ab c", ["google.com:1#ab"]),
    ("google.com:1#", ["google.com:1"]),
    ("google.com:00000001/abs", ["google.com:00000001/abs"]),
    ("google.com:000000065536/abs", ["google.com"]),
    ("google.com:0/abs", ["google.com"]),
    ("google.com:65535", ["google.com:65535"]),
    ("127.001", []),
    ("127.0.0.1", ["127.0.0.1"]),
    ("127.0.0.01", []),
    ("127.0.0.256", []),
    ("ÀÁ.com. ÀÁ.com.", ["ÀÁ.com", "ÀÁ.com"]),
    ("ÀÁ.com,ÀÁ.com.", ["ÀÁ.com", "ÀÁ.com"]),
    ("teiegram.org/test", []),
    ("http://test.google.com/?q=abc()}[]def", ["http://test.google.com/?q=abc()"]),
    ("http://test.google.com/?q=abc([{)]}def", ["http://test.google.com/?q=abc([{)]}def"]),
    ("http://test.google.com/?q=abc){}[]def", ["http://test.google.com/?q=abc"]),
    ("http://test-.google.com", []),
    ("http://test_.google.com", ["http://test_.google.com"]),
    ("http://google_.com", []),
    ("http://google.com?", ["http://google.com"]),
    ("http://google.com##", ["http://google.com##"]),
    ("http://google.com/?", ["http://google.com/"]),
    ("https://www.google.com/ab,", ["https://www.google.com/ab"]),
    ("('http://telegram.org/a-b/?br=ie&lang=en',)", ["http://telegram.org/a-b/?br=ie&lang=en"]),
    ("https://ai.telegram.org/bot%20bot/test-...", ["https://ai.telegram.org/bot%20bot/test-"]),
    ("https://a.de[bc@c.com", ["https://a.de"]),
    ("https://a:h.bcde.fg@c.com", ["https://a:h.bcde.fg@c.com"]),
    ("telegram.Org", []),
    ("telegram.ORG", ["telegram.ORG"]),
    ("<http://www.ics.uci.edu/pub/ietf/uri/historical.html#WARNING>", ["http://www.ics.uci.edu/pub/ietf/uri/historical.html#WARNING"]),
    ("http://test.com?#", ["http://test.com?#"]),
    ("https://t.me/abcdef…", ["https://t.me/abcdef"]),
    ("https://t.me…", ["https://t.me"]),
    ("https://t.m…", []),
    ("👉http://ab.com/cdefgh-1IJ", ["http://ab.com/cdefgh-1IJ"]),
    ("http://test―‑@―google―.―com―/―–―‐―/―/―/―?―‑―#―――", ["http://test―‑@―google―.―com―/―–―‐―/―/―/―?―‑―#―――"]),
    ("http://google.com/‖", ["http://google.com/"]),
    ("http://test_.com", []),
    ("_.test.com", ["_.test.com"]),
]  # fmt: skip

LINK = "http://127.0.0.1:8081/media/sample.mp4"
ZWNJ, ZWJ = "\u200c", "\u200d"
PERSIAN_CASES = [
    # issue 21's messages: Telegram keeps Arabic punctuation, ZWNJ and ZWJ in the link, ends it before «»
    (f"سلام این رو دانلود کن {LINK}، ممنون", f"{LINK}،"),
    (f"لینک: {LINK}؟", f"{LINK}؟"),
    (f"این {LINK}{ZWNJ} رو ببین", f"{LINK}{ZWNJ}"),
    (f"«{LINK}»", LINK),
    (f"ویدیو ({LINK}) رو بفرست", LINK),
    # more like them
    (f"{LINK}{ZWNJ}رو دانلود کن", f"{LINK}{ZWNJ}رو"),
    (f"{LINK}{ZWJ}", f"{LINK}{ZWJ}"),
    (f"{LINK}؛ بعدی", f"{LINK}؛"),
    (f"نسخهٔ {LINK}٫", f"{LINK}٫"),
    (f"{LINK}…", LINK),  # the ellipsis is General Punctuation
    (f"«{LINK}»،", LINK),
    (f"لینک:{LINK}.", LINK),
    ("https://example.com، ممنون", "https://example.com،"),  # the comma is part of the host, the scheme vouches for it
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TDLIB_CASES)
def test_links_end_where_tdlib_ends_them(text, expected):
    assert [text[a:b] for a, b in find_urls(text, BARE_TLDS)] == expected


@pytest.mark.parametrize(("text", "expected"), PERSIAN_CASES)
def test_links_in_persian_text_are_marked_as_telegram_marks_them(text, expected):
    marked = [text[e["offset"] : e["offset"] + e["length"]] for e in detect(text, []) if e["type"] == "url"]
    assert marked == [expected]


def test_a_bare_host_with_persian_punctuation_is_no_link():
    assert find_urls("example.com، ممنون", BARE_TLDS) == []  # "com،" is no common top-level domain
