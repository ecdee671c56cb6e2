"""Text messages as a user sees them: send, edit, delete, copy; an edit that changes nothing."""

from __future__ import annotations

import pytest
import trio

from core.telegram.port import BotIdentity, Button, NotModified
from tests.contract.world import ChatRecord, World

USER = 1001
DEADLINE = 20.0  # seconds for any one test's Telegram traffic


async def bot_messages(world: World, user_id: int = USER) -> list[ChatRecord]:
    return [r for r in await world.chat(user_id) if r.from_bot]


async def the_message(world: World, message_id: int, user_id: int = USER) -> ChatRecord:
    found = [r for r in await world.chat(user_id) if r.message_id == message_id]
    assert len(found) == 1, f"message {message_id} not in the chat: {await world.chat(user_id)}"
    return found[0]


async def test_get_me_names_the_bot(env):
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            me = await port.get_me()
    assert isinstance(me, BotIdentity)
    assert me.id > 0 and me.username and me.first_name


async def test_send_edit_and_delete_a_message(env):
    await env.world.user_message(USER, "/start")
    keyboard = ((Button("Go", callback_data="go:1"), Button("Site", url="https://example.com/")),)
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "<b>Hello</b> there", keyboard=keyboard)
            assert sent.chat_id == USER
            shown = await the_message(env.world, sent.message_id)
            assert shown.from_bot and shown.text == "Hello there"  # HTML rendered, not shown as tags
            assert shown.has_keyboard and shown.edit_count == 0

            await port.edit_text(USER, sent.message_id, "Changed <i>text</i>", keyboard=keyboard)
            shown = await the_message(env.world, sent.message_id)
            assert shown.text == "Changed text" and shown.edit_count == 1 and shown.has_keyboard

            await port.edit_keyboard(USER, sent.message_id, None)
            shown = await the_message(env.world, sent.message_id)
            assert not shown.has_keyboard and shown.text == "Changed text"

            await port.delete_message(USER, sent.message_id)
            shown = await the_message(env.world, sent.message_id)
            assert shown.deleted


async def test_plain_text_is_sent_as_written(env):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "1 < 2 & <b>not bold</b>", html=False)
            assert (await the_message(env.world, sent.message_id)).text == "1 < 2 & <b>not bold</b>"


async def test_reply_to_a_users_message(env):
    asked = await env.world.user_message(USER, "hello?")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "hi!", reply_to=asked)
    assert (await the_message(env.world, sent.message_id)).text == "hi!"


async def test_an_edit_with_identical_text_is_not_modified_and_harmless(env):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "same text")
            with pytest.raises(NotModified):
                await port.edit_text(USER, sent.message_id, "same text")
            shown = await the_message(env.world, sent.message_id)
            assert shown.text == "same text" and shown.edit_count == 0 and not shown.deleted
            # The port carries on as before.
            await port.edit_text(USER, sent.message_id, "new text")
            assert (await the_message(env.world, sent.message_id)).text == "new text"


async def test_copy_a_message_for_a_broadcast(env):
    original = await env.world.user_message(USER, "news for everyone")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            copied = await port.copy_message(USER, USER, original)
    assert copied.chat_id == USER and copied.message_id != original
    shown = await the_message(env.world, copied.message_id)
    assert shown.from_bot and shown.text == "news for everyone"
