"""Finding the links in a message: entities at UTF-16 offsets, captions, forwarded posts, plain text.

Messages are built as Telegram sends them (Bot API JSON, or MTProto's raw entity objects) and read
through the adapters' own parsers, so the offsets are exactly what the gateway will see.
"""

from __future__ import annotations

from typing import Any

from pyrogram import raw

from core.telegram import Entity, IncomingMessage
from core.telegram._botapi_updates import parse_update
from core.telegram._mtproto_convert import _entity as mtproto_entity
from gateway.links import LinkList, find_links

LIMIT = 5


def u16(text: str) -> int:
    """Length in UTF-16 code units, computed independently of the code under test."""
    return len(text.encode("utf-16-le")) // 2


def url_entity(text: str, link: str, kind: str = "url", **extra: Any) -> dict[str, Any]:
    start = text.index(link)
    return {"type": kind, "offset": u16(text[:start]), "length": u16(link), **extra}


def bot_api_message(message: dict[str, Any]) -> IncomingMessage:
    raw_message = {
        "message_id": 7,
        "date": 1,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "first_name": "A"},
    }
    update = parse_update({"update_id": 1, "message": {**raw_message, **message}})
    assert isinstance(update, IncomingMessage)
    return update


def links_of(message: IncomingMessage, limit: int = LIMIT) -> LinkList:
    return find_links(message.text, message.entities, limit)


def test_scheme_less_url_entities_become_https_links_with_lower_case_hosts():
    text = "Youtu.be/dQw4w9WgXcQ and www.Instagram.com/p/AbC/ or Http://EXAMPLE.com/V"
    entities = [
        url_entity(text, u) for u in ("Youtu.be/dQw4w9WgXcQ", "www.Instagram.com/p/AbC/", "Http://EXAMPLE.com/V")
    ]
    message = bot_api_message({"text": text, "entities": entities})
    expected = ["https://youtu.be/dQw4w9WgXcQ", "https://www.instagram.com/p/AbC/", "http://example.com/V"]
    assert links_of(message) == LinkList(expected, 3)


def test_persian_text_and_emoji_before_a_link_do_not_shift_it():
    # Persian letters and ZWNJ are one UTF-16 unit each, like Python; the emoji are two units (one
    # Python character), so a parser counting characters would cut "ttps://..." or run past the end.
    text = "سلام 👋🏽 این\u200cلینک 🎬: https://youtu.be/dQw4w9WgXcQ لطفاً 🙏 https://example.com/v.mp4"
    entities = [url_entity(text, "https://youtu.be/dQw4w9WgXcQ"), url_entity(text, "https://example.com/v.mp4")]
    assert entities[1]["offset"] > text.index("https://example.com")  # the emoji did shift the units
    message = bot_api_message({"text": text, "entities": entities})
    assert links_of(message).links == ["https://youtu.be/dQw4w9WgXcQ", "https://example.com/v.mp4"]


def test_text_link_entities_give_their_target_not_their_text():
    text = "🎥 ویدیو را ببین: اینجا یا https://decoy.example/shown"
    entities = [
        url_entity(text, "اینجا", "text_link", url="https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        url_entity(text, "https://decoy.example/shown", "text_link", url="https://real.example/target"),
    ]
    message = bot_api_message({"text": text, "entities": entities})
    assert links_of(message).links == ["https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://real.example/target"]


def test_a_caption_and_its_entities_are_read():
    caption = "🔥 کلیپ جدید youtu.be/abcdefghijk"
    message = bot_api_message(
        {
            "photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}],
            "caption": caption,
            "caption_entities": [url_entity(caption, "youtu.be/abcdefghijk")],
        }
    )
    assert links_of(message).links == ["https://youtu.be/abcdefghijk"]


def test_a_forwarded_channel_post_with_text_links():
    text = "📢 کانال ما\nقسمت ۱\nقسمت ۲\n👇 همه در سایت: https://site.example/all"
    post = {
        "forward_origin": {
            "type": "channel",
            "chat": {"id": -1001, "type": "channel", "title": "C"},
            "message_id": 9,
            "date": 1,
        },
        "text": text,
        "entities": [
            {"type": "bold", "offset": 0, "length": u16("📢 کانال ما")},
            url_entity(text, "قسمت ۱", "text_link", url="https://www.tiktok.com/@c/video/1"),
            url_entity(text, "قسمت ۲", "text_link", url="https://www.tiktok.com/@c/video/2"),
            url_entity(text, "https://site.example/all"),
        ],
    }
    assert links_of(bot_api_message(post)).links == [
        "https://www.tiktok.com/@c/video/1",
        "https://www.tiktok.com/@c/video/2",
        "https://site.example/all",
    ]


def test_mtproto_entities_are_read_the_same_way():
    text = "🎬🎬 نگاه کن t.me/c/1 و این"
    start = u16(text[: text.index("t.me")])
    entities = tuple(
        mtproto_entity(e)
        for e in (
            raw.types.MessageEntityUrl(offset=start, length=u16("t.me/c/1")),
            raw.types.MessageEntityTextUrl(
                offset=u16(text[: text.index("این")]), length=3, url="https://x.com/a/status/1"
            ),
        )
    )
    assert find_links(text, entities, LIMIT).links == ["https://t.me/c/1", "https://x.com/a/status/1"]


def test_beyond_the_limit_links_are_counted_not_taken():
    urls = [f"https://example.com/v{i}.mp4" for i in range(8)]
    text = "\n".join(urls + urls[:2])  # two repeated: counted once
    message = bot_api_message({"text": text, "entities": [url_entity(text, u) for u in urls]})
    result = links_of(message)
    assert (result.links, result.found) == (urls[:LIMIT], len(urls))


def test_repeats_are_dropped_keeping_the_first_order():
    text = "https://b.example/2 https://a.example/1 https://b.example/2"
    first, second = "https://b.example/2", "https://a.example/1"
    entities = [
        Entity("url", 0, len(first)),
        Entity("url", len(first) + 1, len(second)),
        Entity("url", len(first) + len(second) + 2, len(first)),
    ]
    assert find_links(text, entities, LIMIT) == LinkList([first, second], 2)


def test_other_schemes_are_returned_apart_and_not_counted():
    text = "ftp://files.example/a.zip tg://resolve?domain=x here https://ok.example/v"
    entities = [
        Entity("url", 0, len("ftp://files.example/a.zip")),
        Entity("url", text.index("tg://"), len("tg://resolve?domain=x")),
        Entity("text_link", text.index("here"), 4, url="mailto:someone@example.com"),
        Entity("url", text.index("https"), len("https://ok.example/v")),
    ]
    result = find_links(text, entities, LIMIT)
    assert result == LinkList(
        ["https://ok.example/v"],
        1,
        ["ftp://files.example/a.zip", "tg://resolve?domain=x", "mailto:someone@example.com"],
    )


def test_links_with_a_user_name_or_password_are_returned_apart_and_not_counted():
    text = "لطفا http://u:p@ok.example/v و https://youtube.com@127.0.0.1/x و https://ok.example/a@b?c=@ را بفرست"
    result = find_links(text, (), LIMIT)
    assert result == LinkList(
        ["https://ok.example/a@b?c=@"], 1, credentials=["http://u:p@ok.example/v", "https://youtube.com@127.0.0.1/x"]
    )
    hidden = Entity("text_link", 0, 4, url="http://:@ok.example/v")
    assert find_links("لطفا", (hidden,), LIMIT) == LinkList([], 0, credentials=["http://:@ok.example/v"])
    assert find_links("لطفا", (hidden,), LIMIT).refused and not find_links("سلام", (), LIMIT).refused


def test_plain_urls_without_entities_end_where_telegram_ends_them():
    cases = {
        "see https://example.com/a.": "https://example.com/a",
        "(https://en.wikipedia.org/wiki/Foo_(bar))": "https://en.wikipedia.org/wiki/Foo_(bar)",
        "«https://example.com/page»": "https://example.com/page",
        'link "https://example.com/q?x=1"': "https://example.com/q?x=1",
        "really? https://example.com/watch?v=1!?": "https://example.com/watch?v=1",
        "https://example.com/a)b": "https://example.com/a",
        "https://example.com, then": "https://example.com",
        "https://example.com:8443/x;": "https://example.com:8443/x",
        "<https://example.com/a>": "https://example.com/a",
        "لینک:https://example.com/ویدیو/۱ ممنون": "https://example.com/ویدیو/۱",
        # tdlib counts the Arabic comma as a path character; the user meant the link without it
        "https://example.com/a، بعدی": "https://example.com/a",
        "HTTPS://User@EXAMPLE.COM/Path?Q=A": "https://User@example.com/Path?Q=A",
    }
    for text, expected in cases.items():
        found = find_links(text, (), LIMIT)
        assert (found.links or found.credentials) == [expected], text  # a user name: refused, but found alike


def test_a_plain_url_already_marked_is_not_taken_twice_and_one_in_code_is_taken():
    text = "https://a.example/x and `https://b.example/y`"
    entities = [
        Entity("url", 0, len("https://a.example/x")),
        Entity("code", text.index("`") + 1, len("https://b.example/y")),
    ]
    assert find_links(text, entities, LIMIT).links == ["https://a.example/x", "https://b.example/y"]


def test_entities_with_impossible_offsets_are_skipped():
    text = "😀 https://a.example/x"
    entities = [
        Entity("url", 1, 5),  # starts inside the emoji's surrogate pair
        Entity("url", 3, 400),  # runs past the end
        Entity("url", 3, u16("https://a.example/x")),
    ]
    assert find_links(text, entities, LIMIT).links == ["https://a.example/x"]


def test_no_links():
    assert find_links("سلام، خوبی؟ 🌹", (), LIMIT) == LinkList([], 0)
    assert find_links("", (Entity("bold", 0, 0),), LIMIT) == LinkList([], 0)
