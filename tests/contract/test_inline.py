"""Inline mode as a user sees it: a query reaches the bot, the bot answers with a cached video and
an article with a keyboard; the chosen article reaches the bot with its inline_message_id, and the
bot edits that message in the user's chat with a friend, first its text, then into the video."""

from __future__ import annotations

import hashlib

import pytest
import trio

from core.telegram.port import (
    ArticleResult,
    Button,
    CachedResult,
    ChosenInlineResult,
    InlineButton,
    InlineQuery,
    Media,
    MediaKind,
)
from tests.contract.receiving import receive

USER = 5005
DEADLINE = 30.0
LINK = "https://www.youtube.com/watch?v=abc"
KEYBOARD = ((Button("⏳", callback_data="inline:wait"),),)


async def test_a_chosen_article_is_edited_into_the_video_by_its_inline_message_id(env, clip):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        await receive(port, 1)
        with trio.fail_after(DEADLINE):
            uploaded = await port.send_media(USER, Media(MediaKind.VIDEO, path=clip.video))
        query_id = await env.world.inline_query(USER, LINK)
        [query] = await receive(port, 1)
        assert isinstance(query, InlineQuery)
        assert (query.id, query.query, query.sender.id, query.chat_type) == (query_id, LINK, USER, "private")

        results = [
            CachedResult("v", MediaKind.VIDEO, uploaded.file_id, title="720p", caption="<b>ویدیو</b>"),
            ArticleResult("get", "⬇️ Send this video", "⏳ <i>0%</i>", keyboard=KEYBOARD),
        ]
        with trio.fail_after(DEADLINE):
            await port.answer_inline_query(query.id, results, button=InlineButton("عضو شوید", "join"))
        assert await env.world.inline_results(USER) == ["v", "get"]

        inline_id = await env.world.choose_inline_result(USER, "get")
        assert inline_id
        [chosen] = await receive(port, 1)
        assert isinstance(chosen, ChosenInlineResult)
        assert (chosen.result_id, chosen.inline_message_id, chosen.query) == ("get", inline_id, LINK)
        [sent] = await env.world.target_chat(USER)
        assert sent.via_bot and not sent.from_bot and sent.text == "⏳ 0%" and sent.has_keyboard

        with trio.fail_after(DEADLINE):
            await port.edit_inline_text(inline_id, "⏳ <i>50%</i>", keyboard=KEYBOARD)
            await port.edit_inline_media(inline_id, Media(MediaKind.VIDEO, file_id=uploaded.file_id, caption="✅"))
        [done] = await env.world.target_chat(USER)
        assert done.media_kind == "video" and done.text == "✅" and done.edit_count == 2 and not done.has_keyboard
        assert done.media_sha256 == hashlib.sha256(clip.video.read_bytes()).hexdigest()

        with pytest.raises(ValueError):  # an inline message takes a file by file_id only
            await port.edit_inline_media(inline_id, Media(MediaKind.VIDEO, path=clip.video))


async def test_a_chosen_cached_file_arrives_without_an_inline_message_id(env, clip):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        await receive(port, 1)
        with trio.fail_after(DEADLINE):
            uploaded = await port.send_media(USER, Media(MediaKind.VIDEO, path=clip.video))
        await env.world.inline_query(USER, LINK)
        [query] = await receive(port, 1)
        assert isinstance(query, InlineQuery)
        with trio.fail_after(DEADLINE):
            await port.answer_inline_query(query.id, [CachedResult("v", MediaKind.VIDEO, uploaded.file_id, title="v")])
        assert await env.world.choose_inline_result(USER, "v") is None
        [chosen] = await receive(port, 1)
        assert isinstance(chosen, ChosenInlineResult) and chosen.inline_message_id is None
    [sent] = await env.world.target_chat(USER)
    assert sent.media_kind == "video" and sent.media_sha256 == hashlib.sha256(clip.video.read_bytes()).hexdigest()
