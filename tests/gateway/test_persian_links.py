"""The link a Persian user meant, from Telegram's own `url` entities (which keep Arabic punctuation,
ZWNJ and ZWJ inside a link) and from the plain text: issue 21's messages and more like them. The
entities come from the sandbox's detection, which follows tdlib's (tests/sandbox/test_urls.py)."""

from __future__ import annotations

import pytest

from core.telegram import Entity
from gateway.links import find_links
from sandbox.entities import detect

LINK = "https://example.com/watch?v=abc"
ZWNJ, ZWJ = "\u200c", "\u200d"
LIMIT = 5
MESSAGES = [
    f"سلام این رو دانلود کن {LINK}، ممنون",
    f"لینک: {LINK}؟",
    f"این {LINK}{ZWNJ} رو ببین",
    f"«{LINK}»",
    f"ویدیو ({LINK}) رو بفرست",
    f"{LINK}{ZWJ}",
    f"{LINK}؛ بعدی",
    f"نسخهٔ {LINK}٫",
    f"{LINK}…",
    f"«{LINK}»،",
    f"لینک:{LINK}.",
    f"{LINK}؟!",
    f"{LINK}{ZWNJ}،",
    f"{LINK}۔",
]


def telegram_entities(text: str) -> list[Entity]:
    return [Entity(e["type"], e["offset"], e["length"]) for e in detect(text, [])]


@pytest.mark.parametrize("text", MESSAGES)
def test_the_link_from_telegrams_entity_is_the_one_meant(text):
    assert find_links(text, telegram_entities(text), LIMIT).links == [LINK]


@pytest.mark.parametrize("text", MESSAGES)
def test_the_link_from_the_plain_text_is_the_one_meant(text):
    assert find_links(text, (), LIMIT).links == [LINK]


def test_persian_inside_a_path_is_kept():
    text = f"https://fa.wikipedia.org/wiki/نیم{ZWNJ}فاصله، ببین"
    assert find_links(text, telegram_entities(text), LIMIT).links == [f"https://fa.wikipedia.org/wiki/نیم{ZWNJ}فاصله"]
