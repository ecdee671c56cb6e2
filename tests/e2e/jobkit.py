"""What the job-life end-to-end tests (kills, zombies, cancels) look at: the jobs' rows, the
processes of the bot (and their ffmpeg children), the sandbox's streams of bytes, and the one
barrier that says a user's jobs are over: every job in a final state and nothing left to send to
them. After that barrier nothing more can reach the chat, so "exactly one answer" is a count,
not a window of waiting.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil

from core.jobstates import FINAL
from core.texts import en
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until


class Bot(Protocol):
    """A running bot as these helpers see it: its data folder and its log."""

    data_dir: Path

    def log(self, tail: int = ...) -> str: ...


# The start of each failure text a user could read (English): none may appear in a good answer.
ERROR_TEXTS = tuple(text[:40] for key, text in en.TEXTS.items() if key.startswith("error_"))


def rows(bot: Bot, sql: str, *params: object) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{bot.data_dir / 'bot.sqlite3'}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params).fetchall()]


def jobs_of(bot: Bot, user_id: int) -> list[dict[str, Any]]:
    return rows(bot, "SELECT * FROM jobs WHERE user_id = ? ORDER BY id", user_id)


async def job_where(bot: Bot, user_id: int, what: str, **wanted: object) -> dict[str, Any]:
    """The user's first top-level job whose columns hold `wanted` (a value None: any non-null)."""

    async def found() -> dict[str, Any] | None:
        for job in jobs_of(bot, user_id):
            if job["parent_id"] is None and all(
                job[k] is not None if v is None else job[k] == v for k, v in wanted.items()
            ):
                return job
        return None

    return await until(what, found, 90, describe=bot.log)


async def settled(bot: Bot, user_id: int, timeout: float = 120) -> list[dict[str, Any]]:
    """Wait until every job of the user is over and no message to them waits to be sent."""

    async def over() -> list[dict[str, Any]] | None:
        jobs = jobs_of(bot, user_id)
        waiting = rows(bot, "SELECT id FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending')", user_id)
        return jobs if jobs and all(j["state"] in FINAL for j in jobs) and not waiting else None

    return await until(f"user {user_id}'s jobs over and nothing left to send", over, timeout, describe=bot.log)


async def exactly_one_file(chat: Chat, bot: Bot, size: int | None = None) -> dict[str, Any]:
    """The user's job ended done, with one file in the chat and no failure text."""
    jobs = await settled(bot, chat.user_id)
    assert [j["state"] for j in jobs] == ["done"], jobs
    files = await chat.files()
    assert len(files) == 1, f"{len(files)} files in the chat: {files}"
    if size is not None:
        assert files[0]["media"]["size"] == size
    assert_no_failure_text(await chat.bot_messages())
    return files[0]


def assert_no_failure_text(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        shown = m.get("text") or m.get("caption") or ""
        assert not shown.startswith(ERROR_TEXTS), f"a failure was shown: {shown!r}"


# ---- processes ------------------------------------------------------------------------------------


def pid_of(bot: BotProcess, name: str) -> int:
    return int(bot.processes()[name]["pid"])


def ffmpegs(pid: int) -> list[int]:
    """ffmpeg processes below `pid` (a downloader, or the whole bot)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "ffmpeg" in child.name():
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


async def ffmpeg_running(bot: BotProcess, worker: str) -> int:
    """Wait until `worker` runs an ffmpeg; returns the ffmpeg's pid."""
    pid = pid_of(bot, worker)

    async def running() -> int | None:
        found = ffmpegs(pid)
        return found[0] if found else None

    return await until(f"an ffmpeg under {worker}", running, 90, describe=bot.log)


# ---- the sandbox's streams of bytes -----------------------------------------------------------------


async def streams(http: httpx.AsyncClient, needle: str) -> list[dict[str, Any]]:
    """The generated-byte answers whose path and query hold `needle` (oldest first)."""
    got = (await http.get("/sandbox/stats")).json()["media_streams"]
    return [s for target, answers in got.items() if needle in target for s in answers]


async def streaming(http: httpx.AsyncClient, needle: str, least_bytes: int = 1) -> dict[str, Any]:
    async def open_one() -> dict[str, Any] | None:
        return next((s for s in await streams(http, needle) if s["open"] and s["bytes"] >= least_bytes), None)

    return await until(f"bytes of {needle!r} on their way", open_one, 90)


async def stopped_within(http: httpx.AsyncClient, needle: str, since: float, limit_s: float) -> float:
    """Wait until no answer of `needle` is open any more; returns how long after `since` its last
    bytes left, and fails if that is more than `limit_s`."""

    async def closed() -> list[dict[str, Any]] | None:
        got = await streams(http, needle)
        return got if got and not any(s["open"] for s in got) else None

    got = await until(f"the bytes of {needle!r} to stop", closed, 30)
    last = max(s["last_at"] for s in got)
    took = last - since
    assert took <= limit_s, f"bytes of {needle!r} went on {took:.2f} s after the press"
    return took


def now() -> float:
    return time.time()
