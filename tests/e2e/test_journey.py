"""A link becomes a file, as a user lives it: the choice, the file with its details, the cache,
cancel, several links; through every process, with real yt-dlp and ffmpeg, against the sandbox."""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.conftest import spool_files
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.poll import until

users = itertools.count(20_000)


def link(bot: BotProcess, name: str, **query: object) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{bot.url}/media/{name}" + (f"?{qs}" if qs else "")


async def stats(chat: Chat) -> dict:
    return dict((await chat.http.get("/sandbox/stats")).json())


async def set_default(chat: Chat, label: str) -> None:
    await chat.say("/settings")
    menu = await chat.wait_text("settings" if chat.lang == "en" else "تنظیمات")
    await chat.press(menu["message_id"], button(menu, label)["callback_data"])
    await until("the setting to be saved", lambda: _checked(chat, menu["message_id"], label), 30)


async def _checked(chat: Chat, message_id: int, label: str) -> bool:
    for m in await chat.bot_messages():
        if m["message_id"] == message_id:
            return any(b["text"].startswith("✓") and label.lower() in b["text"].lower() for b in buttons(m))
    return False


async def test_a_video_link_offers_video_and_audio_and_the_video_arrives_with_its_details(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    url = link(shared_bot, "sample.mp4", t="details")
    asked = await chat.say(url)
    offer = await chat.wait_buttons()
    assert offer["reply_to_message_id"] == asked  # the status is a reply to the link
    labels = [b["text"] for b in buttons(offer)]
    assert (
        any("Video" in t for t in labels) and any("Audio" in t for t in labels) and any("Cancel" in t for t in labels)
    )
    await chat.press(offer["message_id"], button(offer, "Video")["callback_data"])
    [sent] = await chat.wait_files(1)
    video = sent["media"]
    assert video["kind"] == "video"
    assert video["duration"] >= 3 and (video["width"], video["height"]) == (320, 240)
    assert video["has_thumbnail"]
    assert sent["reply_to_message_id"] == asked
    assert url in (sent.get("html") or "")  # the caption links the source
    # The status message is gone once the file is there.
    await until("the status to be removed", lambda: _status_gone(chat, offer["message_id"]), 30)


async def _status_gone(chat: Chat, message_id: int) -> bool:
    return all(m["message_id"] != message_id for m in await chat.bot_messages())


async def test_audio_only_arrives_as_audio(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "sample.mp4", t="audio"))
    offer = await chat.wait_buttons()
    await chat.press(offer["message_id"], button(offer, "Audio")["callback_data"])
    [sent] = await chat.wait_files(1)
    assert sent["media"]["kind"] == "audio" and sent["media"]["duration"] >= 3


async def test_a_saved_default_skips_the_question_and_costs_three_sends(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    before = len(await chat.bot_messages(with_deleted=True))
    await chat.say(link(shared_bot, "sample.mp4", t="default"))
    [sent] = await chat.wait_files(1)
    assert sent["media"]["kind"] == "video"
    await until("only the file to be left", lambda: _only_files_left(chat, before), 30)
    after = await chat.bot_messages(with_deleted=True)
    new = after[before:]
    # The status, the file, and the status removed: no question, no progress edit for a quick job.
    assert len(new) == 2 and sum(m["edit_count"] for m in new) == 0
    assert [m["deleted"] for m in new if not m.get("media")] == [True]


async def _only_files_left(chat: Chat, skip: int) -> bool:
    return all(m["deleted"] or m.get("media") for m in (await chat.bot_messages(with_deleted=True))[skip:])


async def test_the_second_user_gets_the_cached_file_without_any_new_media_request(shared_bot, http):
    first, second = Chat(http, next(users), shared_bot), Chat(http, next(users), shared_bot)
    url = link(shared_bot, "sample.mp4", t="cache")
    for chat in (first, second):
        await set_default(chat, "best")
    await first.say(url)
    [one] = await first.wait_files(1)
    requests_before = (await stats(first))["media_requests"]
    await second.say(url + "&utm_source=newsletter")  # a tracking parameter is not another media
    [two] = await second.wait_files(1)
    assert two["media"]["file_id"] == one["media"]["file_id"]
    assert (await stats(second))["media_requests"] == requests_before


async def test_cancel_while_choosing_says_cancelled_and_no_file_comes(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "sample.mp4", t="cancel-choice"))
    offer = await chat.wait_buttons()
    await chat.press(offer["message_id"], button(offer, "Cancel")["callback_data"])
    cancelled = await chat.wait_text("Cancelled")
    assert cancelled["message_id"] == offer["message_id"] and buttons(cancelled) == []  # no choice left to press
    await until("the press to be answered", lambda: _answered(chat, "Cancelled"), 30)
    assert await chat.files() == []


async def _answered(chat: Chat, word: str) -> bool:
    response = await chat.http.get(f"/sandbox/users/{chat.user_id}/chat")
    return any(word in (a.get("text") or "") for a in response.json()["callback_answers"])


async def test_several_links_in_one_message_each_become_a_file(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    urls = [link(shared_bot, "sample.mp4", t=f"many{i}") for i in range(3)]
    await chat.say("take these: " + " and ".join(urls))
    sent = await chat.wait_files(3, timeout=90)
    assert sorted(m["media"]["kind"] for m in sent) == ["video"] * 3


@pytest.mark.parametrize("lang", ["fa"])
async def test_persian_users_read_persian_with_persian_digits(shared_bot, http, lang):
    chat = Chat(http, next(users), shared_bot, lang=lang)
    await chat.say(link(shared_bot, "sample.m3u8", t="fa"))  # HLS tells its duration
    offer = await chat.wait_buttons()
    assert "کیفیت" in offer["text"] and any("لغو" in b["text"] for b in buttons(offer))
    assert "۰:۰۴" in offer["text"]  # the duration, in Persian digits


async def test_the_spool_is_empty_when_the_jobs_are_done(shared_bot, http):
    await until("an empty spool", lambda: _empty(shared_bot), 30)


async def _empty(bot: BotProcess) -> bool:
    return not spool_files(bot)


async def test_a_slow_probe_shows_that_the_link_is_being_looked_at(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    # The page answers after 9 s: the status says "looking" once an edit interval has passed.
    await chat.say(link(shared_bot, "page.html", t="slow-probe", delay_ms=9000))
    looking = await chat.wait_text("Looking at the link", timeout=30)
    assert button(looking, "Cancel")  # cancel stays offered in every phase
    offer = await chat.wait_buttons(timeout=30)
    assert offer["message_id"] == looking["message_id"]  # the same status message, edited
    await chat.press(offer["message_id"], button(offer, "Cancel")["callback_data"])
    await chat.wait_text("Cancelled")
