"""Captions: titles escaped so they never inject markup, links only to http(s), the 1,024-unit limit
counted as Telegram counts it (the visible text, in UTF-16), with the link and signature kept.

Each caption is checked twice: with Python's html.parser (the visible text and the links), and
with the sandbox's copy of Telegram's own HTML parser, which refuses what Telegram refuses."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from sandbox.html_text import parse_html
from uploader.caption import build_caption, utf16_units

URL = "https://www.youtube.com/watch?v=abc&list=x"
SIGNATURE = "@mybot"
TELEGRAM_CAPTION_UNITS = 1024  # Telegram's limit (core.telegram.org/bots/api#sendvideo), not the bot's copy of it


class Seen(HTMLParser):
    """What a reader sees: the text without tags; and every tag with its attributes."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def check(caption: str) -> Seen:
    seen = Seen(caption)
    plain, entities = parse_html(caption)  # raises as Telegram would on broken markup
    assert plain == seen.visible
    assert utf16_units(plain) <= TELEGRAM_CAPTION_UNITS
    assert [t for t, _ in seen.tags] == ["a" for e in entities if e["type"] == "text_link"]
    return seen


@pytest.mark.parametrize(
    "title",
    [
        "Tom & Jerry <3",
        "a < b > c",
        "<b>fake bold</b> and <a href='https://evil.example'>a link</a>",
        "He said \"hi\" & 'bye'",
        "&lt; already escaped &amp;",
        "</i> closing a tag that was never opened",
    ],
)
def test_a_title_shows_exactly_as_typed_and_injects_no_markup(title):
    seen = check(build_caption(title, URL, SIGNATURE, lang="en"))
    assert seen.visible.splitlines() == [title, "youtube.com", SIGNATURE]
    assert seen.tags == [("a", {"href": URL})]  # the source link, and nothing the title brought


def test_the_source_link_is_escaped_in_its_attribute():
    url = "https://example.com/a?x=\"><b>y</b>&z='1'"
    seen = check(build_caption("t", url, "", lang="en"))
    assert seen.tags == [("a", {"href": url})]
    assert parse_html(build_caption("t", url, "", lang="en"))[1][0]["url"] == url


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", "tg://resolve?domain=x", "file:///etc/passwd", "https://", "x y"],
)
def test_only_http_links_are_linked(url):
    seen = check(build_caption("title", url, SIGNATURE, lang="en"))
    assert seen.tags == []
    assert seen.visible.splitlines() == ["title", SIGNATURE]


def test_a_signature_is_escaped_too():
    seen = check(build_caption("t", None, "<i>@bot</i> & co", lang="en"))
    assert seen.visible.splitlines() == ["t", "<i>@bot</i> & co"] and seen.tags == []


def test_the_part_label_comes_in_the_users_language_with_persian_digits():
    fa = check(build_caption("عنوان", URL, SIGNATURE, part=(2, 3)))
    en = check(build_caption("title", URL, SIGNATURE, part=(2, 3), lang="en"))
    assert fa.visible.splitlines()[1] == "بخش ۲ از ۳"
    assert en.visible.splitlines()[1] == "Part 2 of 3"


@pytest.mark.parametrize(
    "title",
    [
        "x" * 5000,
        "<&>" * 2000,  # every character an escape in the markup
        "😀" * 1500,  # two UTF-16 units each: 3,000 units
        "👨‍👩‍👧‍👦 family " * 300,  # ZWJ sequences
        "ویدیوی بسیار طولانی با عنوان فارسی و نیم‌فاصله " * 60,
        "é" * 700 + "e\u0301" * 700,  # precomposed, then with combining accents
    ],
)
def test_a_long_title_is_cut_to_fit_and_keeps_link_and_signature(title):
    caption = build_caption(title, URL, SIGNATURE, part=(1, 2))
    seen = check(caption)
    lines = seen.visible.splitlines()
    assert lines[1:] == ["بخش ۱ از ۲", "youtube.com", SIGNATURE]
    assert seen.tags == [("a", {"href": URL})]
    shown = lines[0]
    assert shown.endswith("…") and title.startswith(shown[:-1].rstrip())
    # It uses the room there is: at most one emoji sequence short of the limit.
    assert utf16_units(seen.visible) > TELEGRAM_CAPTION_UNITS - 12
    head = shown[:-1].rstrip()
    assert head[-1] != "\u200d" and title[len(head)] not in ("\u200d", "\u0301")  # not inside a character


def test_utf16_counting_lets_a_title_of_astral_characters_fill_only_half():
    caption = build_caption("𝐁" * 1000, None, "", lang="en")  # mathematical bold: 2 units each
    shown = check(caption).visible
    assert utf16_units(shown) <= TELEGRAM_CAPTION_UNITS and len(shown) < 520


def test_a_title_that_fits_is_not_touched():
    title = "a" * (TELEGRAM_CAPTION_UNITS - len("\nyoutube.com\n@mybot"))
    assert check(build_caption(title, URL, SIGNATURE, lang="en")).visible.splitlines()[0] == title
    longer = check(build_caption(title + "a", URL, SIGNATURE, lang="en")).visible.splitlines()[0]
    assert longer.endswith("…") and len(longer) == len(title)


def test_newlines_and_control_characters_in_a_title_stay_on_one_line():
    seen = check(build_caption("one\ntwo\r\n\tthree\x00\x07", URL, SIGNATURE, lang="en"))
    assert seen.visible.splitlines()[0] == "one two three"


def test_no_title_no_link_no_signature():
    assert build_caption(None, None, "") == ""
    assert check(build_caption(None, URL, "")).visible == "youtube.com"


def test_a_signature_too_long_for_any_caption_is_cut_rather_than_the_send_refused():
    seen = check(build_caption("t", URL, "s" * 2000, lang="en"))
    lines = seen.visible.splitlines()
    assert lines[0] == "youtube.com" and lines[1].endswith("…")
