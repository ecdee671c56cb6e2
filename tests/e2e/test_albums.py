"""Image posts end to end: the sandbox's gallery page, read by real gallery-dl after yt-dlp found
no video on it, arrives as Telegram albums (sendMediaGroup) in the post's order with its text;
a second request is served from the cache with no fetch; a mixed post asks photos, videos or
everything (a saved answer skips the question); nothing of a post reaches this machine."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

import trio

from core.texts import text
from tests.e2e.answers import Canary
from tests.support.bot import BotProcess, Chat, button
from tests.support.journey import link, set_default, settled, stats
from tests.support.poll import until

users = itertools.count(170_000)
ALBUM_TIMEOUT_S = 180.0


def gallery(bot: BotProcess, tag: str, **query: object) -> str:
    return link(bot, "gallery.html", **query, tag=tag)


def albums_of(files: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages grouped by album, in order (a message of no album is one of its own)."""
    out: list[list[dict[str, Any]]] = []
    for m in files:
        group = m.get("media_group_id")
        if out and group is not None and out[-1][0].get("media_group_id") == group:
            out[-1].append(m)
        else:
            out.append([m])
    return out


async def test_three_images_and_a_video_arrive_as_one_album_of_four_in_order_with_the_caption(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    words = "پست سه عکس و یک ویدیو – a post of four"
    await chat.say(gallery(shared_bot, "four", images=3, videos=1, text=quote(words)))
    offer = await chat.wait_buttons(timeout=ALBUM_TIMEOUT_S)
    assert "4" in offer["text"], offer["text"]
    await chat.press(offer["message_id"], button(offer, "Everything")["callback_data"])
    files = await chat.wait_files(4, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    files = await chat.files()
    [album] = albums_of(files)
    assert [m["media"]["kind"] for m in album] == ["photo", "video", "photo", "photo"]
    assert album[1]["media"]["video_codec"] == "h264" and album[1]["media"]["faststart"] is True
    assert words in album[0]["caption"]
    assert all(not m["caption"] for m in album[1:])
    [job] = shared_bot.rows("SELECT state, format_key FROM jobs WHERE user_id = ?", chat.user_id)
    assert job == {"state": "done", "format_key": "g:all"}


async def test_fourteen_items_arrive_as_ten_and_four_and_a_second_request_is_served_from_the_cache(shared_bot, http):
    url = gallery(shared_bot, "fourteen", images=14, videos=0)
    first = Chat(http, next(users), shared_bot)
    await first.say(url)  # pictures only: nothing to choose
    await first.wait_files(14, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, first.user_id)
    sent = albums_of(await first.files())
    assert [len(a) for a in sent] == [10, 4]
    assert all(m["media"]["kind"] == "photo" for a in sent for m in a)

    fetched = (await stats(http))["media_requests_total"]
    second = Chat(http, next(users), shared_bot)
    await second.say(url)
    await second.wait_files(14, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, second.user_id)
    again = albums_of(await second.files())
    assert [len(a) for a in again] == [10, 4]
    assert [m["media"]["file_unique_id"] for a in again for m in a] == [
        m["media"]["file_unique_id"] for a in sent for m in a
    ]
    assert (await stats(http))["media_requests_total"] == fetched, "the cached post was fetched again"


async def test_a_mixed_post_answered_photos_gets_only_its_photos(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(gallery(shared_bot, "photos", images=2, videos=2))
    offer = await chat.wait_buttons(timeout=ALBUM_TIMEOUT_S)
    await chat.press(offer["message_id"], button(offer, "Photos only")["callback_data"])
    await chat.wait_files(2, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    files = await chat.files()
    assert [m["media"]["kind"] for m in files] == ["photo", "photo"]
    assert len(albums_of(files)) == 1


async def test_a_saved_answer_skips_the_question(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="fa")
    await set_default(chat, text("fa", "album_videos"))
    await chat.say(gallery(shared_bot, "saved", images=1, videos=2))
    await chat.wait_files(2, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    files = await chat.files()
    assert [m["media"]["kind"] for m in files] == ["video", "video"]
    asked = [m for m in await chat.bot_messages() if text("fa", "button_album_all") in str(m.get("reply_markup"))]
    assert asked == [], "the user was asked although their answer is saved"


async def test_a_post_with_an_image_on_this_machine_reaches_nothing(shared_bot, http, nursery: trio.Nursery):
    canary = await Canary().start(nursery)
    chat = Chat(http, next(users), shared_bot)
    said = await chat.say(gallery(shared_bot, "canary", images=2, videos=0, extra=canary.url("/x.jpg")))
    await settled(shared_bot, chat.user_id, last_message=said, timeout=ALBUM_TIMEOUT_S)
    assert await chat.files() == []
    assert canary.connections == []
    [job] = shared_bot.rows("SELECT state, error_class FROM jobs WHERE user_id = ?", chat.user_id)
    assert job["state"] == "failed" and job["error_class"] == "forbidden_address", job
    last = (await chat.bot_messages())[-1]["text"]
    assert last == text("en", "link_refused_address"), last


async def test_a_single_picture_is_one_photo(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(gallery(shared_bot, "one", images=1, videos=0))
    await chat.wait_files(1, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    [photo] = await chat.files()
    assert photo["media"]["kind"] == "photo" and photo["media_group_id"] is None


async def test_a_saved_video_quality_still_gets_an_image_post(shared_bot, http):
    """A saved quality sends links straight to a video download; an image post met there goes back
    to the gateway as the post's probe: a mixed post asks, pictures alone arrive at once."""
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    await chat.say(f"ببین این پست رو {gallery(shared_bot, 'saved-best-mixed', images=2, videos=1)} ممنون")
    photos_only = text("en", "button_album_photos")

    async def offered() -> dict[str, Any] | None:
        return next((m for m in await chat.bot_messages() if photos_only in str(m.get("reply_markup"))), None)

    offer = await until("the post's choice", offered, ALBUM_TIMEOUT_S)
    await chat.press(offer["message_id"], button(offer, photos_only)["callback_data"])
    await chat.wait_files(2, timeout=ALBUM_TIMEOUT_S)
    await chat.say(gallery(shared_bot, "saved-best-pictures", images=3, videos=0))
    await chat.wait_files(5, timeout=ALBUM_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    assert [m["media"]["kind"] for m in await chat.files()] == ["photo"] * 5
    jobs = shared_bot.rows("SELECT state, format_key FROM jobs WHERE user_id = ? ORDER BY id", chat.user_id)
    assert [j["state"] for j in jobs] == ["done", "done"] and all(j["format_key"].startswith("g:") for j in jobs), jobs
