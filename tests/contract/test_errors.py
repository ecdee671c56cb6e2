"""Telegram's refusals as typed errors: FloodWait with its seconds, Blocked, member statuses, a
chat the bot cannot see, a message that is gone and a file_id that is not (or no longer) the bot's."""

from __future__ import annotations

import pytest
import trio

from core.telegram.port import Blocked, ChatNotFound, FloodWait, Media, MediaKind, MessageGone, StaleFileId

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


async def test_a_message_that_is_gone_cannot_be_edited_deleted_or_copied(env):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_text(USER, "soon gone")
            await port.delete_message(USER, sent.message_id)
            with pytest.raises(MessageGone):
                await port.edit_text(USER, sent.message_id, "too late")
            with pytest.raises(MessageGone):
                await port.edit_keyboard(USER, sent.message_id, None)
            with pytest.raises(MessageGone):
                await port.delete_message(USER, sent.message_id)
            with pytest.raises(MessageGone):  # a broadcast whose message the admin deleted
                await port.copy_message(USER, USER, sent.message_id)
            with pytest.raises(MessageGone):  # never there at all
                await port.edit_text(USER, sent.message_id + 1000, "nobody")
    bot = [r for r in await env.world.chat(USER) if r.from_bot]
    assert [(r.text, r.deleted, r.edit_count) for r in bot] == [("soon gone", True, 0)]


async def test_a_file_id_that_is_not_the_bots_is_stale(env, env_factory, tmp_path, clip):
    """A file_id from another bot (here: another Telegram), and one that is not a file_id at all:
    both say "upload it again", not an error of the bot's own."""
    async with env_factory(tmp_path / "elsewhere") as elsewhere:
        await elsewhere.world.user_message(USER, "/start")
        async with elsewhere.make_port() as port:
            with trio.fail_after(DEADLINE):
                foreign = (await port.send_media(USER, Media(MediaKind.VIDEO, path=clip.video))).file_id
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            for file_id in (foreign, "BAACAgQAAxkBAAIC-not-a-file-id"):
                with pytest.raises(StaleFileId):
                    await port.send_media(USER, Media(MediaKind.VIDEO, file_id=file_id))
    assert [r for r in await env.world.chat(USER) if r.from_bot] == []
