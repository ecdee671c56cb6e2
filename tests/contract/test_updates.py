"""Receiving: messages with entities, callback queries, users blocking the bot; updates in order
and none lost (or repeated) when the receiver stops without confirming and another starts."""

from __future__ import annotations

import trio

from core.telegram.port import (
    BotBlocked,
    Button,
    CallbackQuery,
    ChatMemberChange,
    IncomingMessage,
    Update,
)
from tests.contract.receiving import DEADLINE, POLL, receive, texts

USER = 4004


def utf16_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


async def test_a_user_message_arrives_with_sender_language_and_entities(env):
    text = "/start 🎬 سلام https://example.com/v?id=1"
    sent_id = await env.world.user_message(USER, text, language_code="fa")
    async with env.make_port() as port:
        [update] = await receive(port, 1)
    assert isinstance(update, IncomingMessage)
    assert update.message_id == sent_id and update.text == text
    assert update.chat.id == USER and update.chat.type == "private"
    assert update.sender.id == USER and update.sender.language_code == "fa" and not update.sender.is_bot
    found = {e.type: (e.offset, e.length) for e in update.entities}
    url = "https://example.com/v?id=1"
    # Offsets count UTF-16 code units, as Telegram does: the emoji before the URL counts twice.
    assert found["bot_command"] == (0, len("/start"))
    assert found["url"] == (utf16_offset(text, text.index(url)), len(url))
    assert utf16_offset(text, text.index(url)) == text.index(url) + 1


async def test_a_reply_says_which_message_it_answers(env):
    first = await env.world.user_message(USER, "the message to broadcast")
    await env.world.user_message(USER, "/broadcast", reply_to=first)
    async with env.make_port() as port:
        plain, reply = await receive(port, 2)
    assert isinstance(plain, IncomingMessage) and isinstance(reply, IncomingMessage)
    assert plain.reply_to_message_id is None and reply.reply_to_message_id == first


async def test_updates_arrive_in_order_and_none_is_lost_when_the_receiver_restarts(env):
    first_wave = [f"first {i}" for i in range(4)]
    second_wave = [f"second {i}" for i in range(6)]
    for text in first_wave:
        await env.world.user_message(USER, text)
    async with env.make_port() as receiver:
        handled = await receive(receiver, len(first_wave))  # handled and confirmed, then it stops at once
    assert texts(handled) == first_wave

    for text in second_wave:
        await env.world.user_message(USER, text)
    async with env.make_port() as receiver:
        unconfirmed = await receive(receiver, 1, confirm=False)  # seen, then the receiver "crashes"
    assert texts(unconfirmed) == second_wave[: len(unconfirmed)], "confirmed updates came again"

    async with env.make_port() as restarted:
        again = await receive(restarted, len(second_wave))
        assert texts(again) == second_wave  # all of them, in order, none of the confirmed ones
        ids = [u.update_id for u in again]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        with trio.fail_after(DEADLINE):
            leftover = await restarted.get_updates(POLL)
        assert list(leftover.updates) == [], f"repeated: {leftover.updates}"


async def test_a_callback_query_arrives_and_can_be_answered(env):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        await receive(port, 1)
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "Pick one", keyboard=((Button("Yes", callback_data="pick:yes"),),))
        query_id = await env.world.user_callback(USER, sent.message_id, "pick:yes")
        [update] = await receive(port, 1)
        assert isinstance(update, CallbackQuery)
        assert update.id == query_id and update.data == "pick:yes"
        assert update.chat_id == USER and update.message_id == sent.message_id and update.sender.id == USER
        with trio.fail_after(DEADLINE):
            await port.answer_callback(update.id, "Done", alert=True)


async def test_a_user_blocking_the_bot_arrives_as_bot_blocked(env):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        await receive(port, 1)
        await env.world.block(USER)
        [update] = await receive(port, 1)
    assert isinstance(update, BotBlocked)
    assert update.user.id == USER and update.blocked is True


async def test_a_user_joining_and_leaving_a_sponsor_channel_arrives_as_member_changes(env):
    channel = "@contract_updates_sponsor"
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        await receive(port, 1)  # the receiver is polling (Telegram sends chat_member only once asked)
        await env.world.create_channel(channel, bot_is_admin=True)
        await env.world.set_member(channel, USER, "member")
        await env.world.set_member(channel, USER, "left")
        got: list[Update] = []
        with trio.move_on_after(DEADLINE):
            while len([u for u in got if isinstance(u, ChatMemberChange)]) < 2:
                batch = await port.get_updates(POLL)
                got.extend(batch.updates)
                await port.confirm(batch)
    changes = [u for u in got if isinstance(u, ChatMemberChange)]
    assert [(c.old_status, c.new_status) for c in changes] == [("left", "member"), ("member", "left")], got
    assert all(c.user.id == USER and c.chat.username == channel.lstrip("@") for c in changes)
    assert all(c.chat.type == "channel" and c.chat.id < 0 for c in changes)
