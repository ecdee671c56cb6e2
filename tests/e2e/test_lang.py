"""The user's language: Telegram's picks the default; /lang offers every language and switches,
and every later answer comes in the new one."""

from __future__ import annotations

import itertools

from core.texts import LANGUAGES, text
from tests.support.bot import Chat, button

users = itertools.count(62_000)


async def test_telegrams_language_is_the_default_and_lang_switches_it(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="en")
    await chat.say("/lang")
    menu = await chat.wait_text(text("en", "lang_choose"))
    labels = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [("✓ " if code == "en" else "") + text(code, "language_name") for code in LANGUAGES]
    await chat.press(menu["message_id"], button(menu, text("fa", "language_name"))["callback_data"])
    await chat.wait_text(text("fa", "lang_choose"))  # the menu itself is redrawn in Persian
    await chat.say("/settings")
    await chat.wait_text("تنظیمات")  # what comes next is Persian too


async def test_lang_with_a_code_switches_at_once(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="fa")
    await chat.say("/lang en")
    await chat.wait_text(text("en", "lang_saved"))
    await chat.say("/cancel")
    await chat.wait_text(text("en", "nothing_to_cancel"))


async def test_an_unknown_telegram_language_gets_the_default(shared_bot, http):
    chat = Chat(http, next(users), shared_bot, lang="de")
    await chat.say("/cancel")
    await chat.wait_text(text("fa", "nothing_to_cancel"))
