"""A real third-party Bot API client (python-telegram-bot, asyncio) against `python -m sandbox`:
it must see what it would see from Telegram, 429 included."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from tests.plain_asyncio import plain_asyncio
from tests.sandbox.support import BOT_ID, TOKEN
from tests.support.sandbox import SandboxProcess

USER = 77
CALL_TIMEOUT_S = 30.0


async def _drive(url: str, media: Path) -> None:
    bot = Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")
    async with bot, httpx.AsyncClient(base_url=url, timeout=CALL_TIMEOUT_S) as sim:
        me = await bot.get_me()
        assert (me.id, me.is_bot, me.username, me.first_name) == (BOT_ID, True, "sandbox_bot", "Sandbox Bot")
        assert me.can_join_groups is True and me.supports_inline_queries is True

        await sim.post("/sandbox/config", json={"chat_burst": 10})  # this test sends faster than 1/s
        await sim.post(
            f"/sandbox/users/{USER}/messages", json={"text": "/start", "first_name": "Tara", "language_code": "en"}
        )
        updates = await bot.get_updates(timeout=5)
        [update] = updates
        assert update.message is not None and update.message.text == "/start"
        assert update.message.from_user is not None and update.message.from_user.first_name == "Tara"
        assert update.message.entities[0].type == "bot_command"
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()

        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
        sent = await bot.send_message(USER, "<b>Hello</b>", parse_mode="HTML", reply_markup=keyboard)
        assert sent.text == "Hello" and sent.entities[0].type == "bold"
        assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][0].callback_data == "go"
        assert sent.chat.id == USER and sent.from_user is not None and sent.from_user.id == BOT_ID

        edited = await bot.edit_message_text("Done", chat_id=USER, message_id=sent.message_id)
        assert not isinstance(edited, bool) and edited.text == "Done" and edited.edit_date is not None

        with (media / "sample.mp4").open("rb") as video, (media / "thumb.jpg").open("rb") as thumb:
            clip = await bot.send_video(USER, video, width=320, height=240, thumbnail=thumb, caption="clip")
        assert clip.video is not None and clip.caption == "clip"
        assert (clip.video.width, clip.video.height, clip.video.file_size) == (
            320,
            240,
            (media / "sample.mp4").stat().st_size,
        )
        assert clip.video.thumbnail is not None and clip.video.thumbnail.width == 160
        again = await bot.send_video(USER, clip.video.file_id)
        assert again.video is not None and again.video.file_unique_id == clip.video.file_unique_id

        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(USER, "x" * 4097)

        await sim.post("/sandbox/config", json={"faults": {"flood_next": 1, "flood_retry_after": 1}})
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(USER, "too fast")
        assert flood.value.retry_after == dt.timedelta(seconds=1)

        await sim.post(f"/sandbox/users/{USER}/block")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "hello?")

        await sim.post("/sandbox/config", json={"faults": {"drop_rate": 1.0, "drop_methods": ["getMe"]}})
        with pytest.raises(NetworkError):
            await bot.get_me()


def test_python_telegram_bot_drives_the_sandbox(sandbox_process: SandboxProcess, sample_media: Path, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # durations as timedelta, without deprecation warnings
    with plain_asyncio():
        asyncio.run(asyncio.wait_for(_drive(sandbox_process.url, sample_media), timeout=120))
