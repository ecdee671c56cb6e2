"""Links inside Persian text, end to end: as a Persian user writes them, through the sandbox's
entities (which end where Telegram's do: Arabic punctuation, ZWNJ and ZWJ inside, « and » outside),
the gateway, a downloader and the uploader, to the file in the chat. And a site's 4xx: one polite
"not found, check the link" in Persian, never "an internal error", tried once."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from core.texts import text
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until

users = itertools.count(61_000)
ZWNJ, ZWJ = "\u200c", "\u200d"
FILE = "thumb.jpg"  # a plain file: it comes without a question
MESSAGES = {
    "arabic comma": "سلام این رو دانلود کن {link}، ممنون",
    "persian question mark": "لینک: {link}؟",
    "zwnj glued to the end": "این {link}" + ZWNJ + " رو ببین",
    "guillemets": "«{link}»",
    "parentheses": "ویدیو ({link}) رو بفرست",
    "zwj glued to the end": "{link}" + ZWJ,
    "arabic semicolon": "{link}؛ بعدی",
    "arabic decimal separator": "نسخهٔ {link}٫",
    "ellipsis": "{link}… ممنون",
    "guillemets and a comma": "«{link}»، لطفاً",
    "zwnj and a comma": "{link}" + ZWNJ + "، مرسی",
}


def link(bot: BotProcess, path: str) -> str:
    return f"{bot.url}/media/{path}"


@pytest.mark.parametrize("shape", list(MESSAGES))
async def test_the_file_arrives_for_a_link_in_persian_text(shared_bot, http, shape):
    chat = Chat(http, next(users), shared_bot, lang="fa")
    await chat.say(MESSAGES[shape].format(link=link(shared_bot, FILE)))
    [sent] = await chat.wait_files(1, timeout=90)
    assert sent["media"]["kind"] in ("photo", "document")
    said = [m.get("text") or "" for m in await chat.bot_messages()]
    assert not any(text("fa", "error_not_found") in s or text("fa", "error_internal") in s for s in said), said


def job_rows(bot: BotProcess, user_id: int) -> list[tuple[str, int, str | None]]:
    db = sqlite3.connect(bot.data_dir / "bot.sqlite3", timeout=10)
    try:
        return db.execute("SELECT state, attempts, error_class FROM jobs WHERE user_id = ?", [user_id]).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("path", ["status?code=404", "status?code=400", "no-such-file.mp4"])
async def test_a_4xx_from_the_site_is_not_found_in_persian_and_tried_once(shared_bot, http, path):
    chat = Chat(http, next(users), shared_bot, lang="fa")
    await chat.say(f"لطفاً این رو دانلود کن: «{link(shared_bot, path)}»، ممنون")
    await chat.wait_text(text("fa", "error_not_found"), timeout=90)

    async def finished() -> list[tuple[str, int, str | None]] | None:
        rows = job_rows(shared_bot, chat.user_id)
        return rows if rows and rows[0][0] == "failed" else None

    [(state, attempts, error_class)] = await until("the job to fail", finished, 30)
    assert (state, attempts, error_class) == ("failed", 1, "not_found")
    said = [m.get("text") or "" for m in await chat.bot_messages()]
    assert not any(text("fa", "error_internal") in s for s in said)
    assert not any("Traceback" in s or "HTTP Error" in s for s in said)
