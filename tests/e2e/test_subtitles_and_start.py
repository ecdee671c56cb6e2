"""Subtitles and the moment a link points at, end to end: the sandbox's multi.m3u8 has WebVTT
subtitles in fa and en; a user who checks "📝 Subtitles" gets an SRT in their language as a
document with the video, named after it; "always" in /settings skips the button; a link with
`t=` is sent with Telegram's start_timestamp."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from core.texts import text
from tests.support.bot import Chat, button, buttons
from tests.support.journey import link, set_default, settled
from tests.support.poll import until

users = itertools.count(190_000)
FILE_TIMEOUT_S = 150.0


async def srt_of(http: httpx.AsyncClient, files: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    [doc] = [m for m in files if m["media"]["kind"] == "document"]
    body = await http.get(doc["media"]["url"])
    assert body.status_code == 200
    return doc, body.content.decode("utf-8")


async def test_checked_subtitles_arrive_as_an_srt_in_the_users_language(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="fa")
    await chat.say("این را ببین " + link(shared_bot, "multi.m3u8", tag="subs-fa"))
    offer = await chat.wait_buttons(timeout=FILE_TIMEOUT_S)
    label = text("fa", "button_subtitles")
    await chat.press(offer["message_id"], button(offer, label)["callback_data"])

    async def checked() -> dict[str, Any] | None:
        for m in await chat.bot_messages():
            if m["message_id"] == offer["message_id"] and any(b["text"] == "✓ " + label for b in buttons(m)):
                return m
        return None

    offer = await until("the subtitles checked", checked, 30, describe=shared_bot.log)
    await chat.press(offer["message_id"], buttons(offer)[0]["callback_data"])  # the best quality
    await chat.wait_files(2, timeout=FILE_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    files = await chat.files()
    assert [m["media"]["kind"] for m in files] == ["video", "document"]
    doc, srt = await srt_of(http, files)
    assert doc["media"]["file_name"].endswith(".fa.srt"), doc["media"]["file_name"]
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,000\n"), srt[:80]
    assert "زیرنویس شماره" in srt and "WEBVTT" not in srt


async def test_subtitles_always_in_settings_come_without_asking_in_english(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="en")
    await set_default(chat, "Best")
    menu = await chat.wait_text("Subtitles")
    await chat.press(menu["message_id"], button(menu, text("en", "button_subtitles_asked"))["callback_data"])
    await chat.wait_text(text("en", "subtitles_always"))
    await chat.say(link(shared_bot, "multi.m3u8", tag="subs-en"))
    await chat.wait_files(2, timeout=FILE_TIMEOUT_S)
    await settled(shared_bot, chat.user_id)
    _, srt = await srt_of(http, await chat.files())
    assert "Subtitle number 1" in srt


async def test_a_t_link_is_sent_with_its_start_time(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "Best")
    await chat.say(link(shared_bot, "sample.mp4", tag="moment", t="2s"))
    [sent] = await chat.wait_files(1, timeout=FILE_TIMEOUT_S)
    assert sent["media"]["start_timestamp"] == 2, sent["media"]
