"""Telegram's HTML subset and entity detection, checked on the parser directly."""

from __future__ import annotations

import pytest

from sandbox.entities import detect, strip_text, utf16_len
from sandbox.errors import ApiError
from sandbox.html_text import parse_html


def test_every_supported_tag_gives_its_entity():
    text, entities = parse_html(
        "<b>b</b><strong>b</strong><i>i</i><em>i</em><u>u</u><ins>u</ins><s>s</s><strike>s</strike><del>s</del>"
        '<span class="tg-spoiler">p</span><tg-spoiler>p</tg-spoiler><code>c</code><blockquote>q</blockquote>'
        "<blockquote expandable>e</blockquote>"
    )
    assert text == "bbiiuusssppcqe"
    assert [e["type"] for e in entities] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "blockquote",
        "expandable_blockquote",
    ]
    assert [e["offset"] for e in entities] == list(range(14))


def test_nesting_references_and_utf16_offsets():
    text, entities = parse_html("<b>𝐀 <i>&amp;&#1587;&#x4e2d;</i></b> &nbsp;")
    assert text == "𝐀 &س中 &nbsp;"  # unknown named references stay as written
    assert entities == [
        {"type": "bold", "offset": 0, "length": 6},
        {"type": "italic", "offset": 3, "length": 3},
    ]
    assert utf16_len("𝐀") == 2


def test_links_need_a_usable_url():
    assert parse_html('<a href="https://e.com/x?a=1&amp;b=2">e</a>')[1] == [
        {"type": "text_link", "offset": 0, "length": 1, "url": "https://e.com/x?a=1&b=2"}
    ]
    assert parse_html("<a>https://t.me/x</a>")[1][0]["url"] == "https://t.me/x"
    assert parse_html('<a href="not a url">x</a>') == ("x", [])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<b>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("ok <b x>y</b>", 'Expected equal sign in declaration of an attribute of the tag "b" at byte offset 3'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("سلام <br>", 'Unsupported start tag "br" at byte offset 9'),
        ("<i><b>x</i></b>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
    ],
)
def test_refusals_name_the_place(source: str, reason: str):
    with pytest.raises(ApiError) as caught:
        parse_html(source)
    assert (caught.value.code, caught.value.description) == (400, f"Bad Request: can't parse entities: {reason}")


def test_detected_entities_and_trimming():
    text = "  /help@sandbox_bot see youtu.be/abc, #tag @someone mail a.b@c.io  "
    plain, entities = strip_text(text, [])
    found = detect(plain, entities)
    assert plain.startswith("/help")
    assert [(e["type"], plain[e["offset"] : e["offset"] + e["length"]]) for e in found] == [
        ("bot_command", "/help@sandbox_bot"),
        ("url", "youtu.be/abc"),
        ("hashtag", "#tag"),
        ("mention", "@someone"),
        ("email", "a.b@c.io"),
    ]
    code_text, code_entities = parse_html("<code>https://inside.code</code> https://out.side")
    assert [e["type"] for e in detect(code_text, code_entities)] == ["code", "url"]
