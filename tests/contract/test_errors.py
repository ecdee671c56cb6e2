"""Telegram's refusals as typed errors: FloodWait with its seconds, Blocked, member statuses and
a chat the bot cannot see."""

from __future__ import annotations

import pytest
import trio

from core.telegram.port import Blocked, ChatNotFound, FloodWait

DEADLINE = 20.0  # seconds for any one test's Telegram traffic
USER = 3003
CHANNEL = "@contract_sponsor"


async def test_a_flood_wait_surfaces_with_its_seconds(env):
    await env.world.user_message(USER, "/start")
    await env.world.force_flood(7)
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            with pytest.raises(FloodWait) as caught:
                await port.send_text(USER, "too fast")
    assert caught.value.seconds == 7
    assert [r for r in await env.world.chat(USER) if r.from_bot] == []


async def test_a_user_who_blocked_the_bot_is_blocked(env):
    await env.world.user_message(USER, "/start")
    await env.world.block(USER)
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            with pytest.raises(Blocked):
                await port.send_text(USER, "are you there?")
    assert [r for r in await env.world.chat(USER) if r.from_bot] == []


@pytest.mark.parametrize("status", ["member", "left", "kicked", "administrator"])
async def test_chat_member_status(env, status):
    await env.world.create_channel(CHANNEL, bot_is_admin=True)
    await env.world.user_message(USER, "/start")
    await env.world.set_member(CHANNEL, USER, status)
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            assert await port.get_chat_member(CHANNEL, USER) == status


async def test_a_member_change_is_seen_at_once(env):
    await env.world.create_channel(CHANNEL, bot_is_admin=True)
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            await env.world.set_member(CHANNEL, USER, "member")
            assert await port.get_chat_member(CHANNEL, USER) == "member"
            await env.world.set_member(CHANNEL, USER, "left")
            assert await port.get_chat_member(CHANNEL, USER) == "left"


async def test_a_chat_the_bot_cannot_see_is_chat_not_found(env):
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            with pytest.raises(ChatNotFound):
                await port.get_chat_member("@no_such_channel_here", USER)
