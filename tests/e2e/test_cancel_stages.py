"""Cancel at every stage of a job, and "within a second" measured: after the press, the sandbox
stops serving the job's bytes and ffmpeg has exited within 1 s; the job ends cancelled, its files
are removed, and nothing comes to the chat later.

While queued, the link is never fetched. While probing (a slow site), the fetch is cut. While
downloading and while converting, the bytes and the ffmpeg stop. Mid-playlist, the entry being
fetched stops and no entry comes after.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.e2e.jobkit import (
    assert_no_failure_text,
    ffmpeg_running,
    ffmpegs,
    job_where,
    now,
    pid_of,
    settled,
    stopped_within,
    streaming,
    streams,
)
from tests.e2e.test_journey import set_default
from tests.support.bot import BotProcess, Chat, button
from tests.support.poll import until

users = itertools.count(61_000)
WITHIN_S = 1.0  # the promise: a cancelled download stops within a second
CONVERT_SECONDS = 60


@pytest.fixture(scope="module")
def cancel_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    # STATUS_DELAY_S 0: every job shows its status (and cancel button) at once, however quick the
    # stage these tests press it in (a short transcode is over within the delay on a fast machine).
    env = {"ADMIN_IDS": "4242", "USER_CONCURRENT_DOWNLOADS": "1", "STATUS_DELAY_S": "0"}
    bot = BotProcess(tmp_path_factory.mktemp("cancel"), env=env, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(cancel_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cancel_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def status_of(chat: Chat, link_message: int) -> dict[str, Any]:
    """The bot's status message for the user's message `link_message`, with its cancel button."""

    async def found() -> dict[str, Any] | None:
        for m in await chat.bot_messages():
            if m.get("reply_to_message_id") == link_message and any(
                b.get("callback_data", "").startswith("x|")
                for row in (m.get("reply_markup") or {}).get("inline_keyboard") or []
                for b in row
            ):
                return m
        return None

    return await until(f"a status with a cancel button for message {link_message}", found, 60)


async def press_cancel(chat: Chat, status: dict[str, Any]) -> float:
    """Press the status's cancel button; returns when it was pressed (time.time())."""
    pressed = now()
    await chat.press(status["message_id"], button(status, "Cancel")["callback_data"])
    return pressed


async def cancelled_and_quiet(chat: Chat, bot: BotProcess, job_id: int) -> None:
    """The job ended cancelled, the user read "Cancelled", and nothing else will come."""
    jobs = await settled(bot, chat.user_id)
    assert {j["id"]: j["state"] for j in jobs}[job_id] == "cancelled"
    await chat.wait_text("Cancelled")
    assert_no_failure_text(await chat.bot_messages())
    assert not [p for p in bot.spool_files() if p.parent.name.startswith(f"{job_id}-")]


async def test_cancel_while_queued_never_fetches_the_link(cancel_bot, http):
    bot, chat = cancel_bot, Chat(http, next(users), cancel_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/slow?size=600000&rate=150000&t=cq-first")
    first = await job_where(bot, chat.user_id, "the first download running", state="downloading")
    second_message = await chat.say(f"{bot.url}/media/slow?size=600000&rate=150000&t=cq-second")
    second = await job_where(bot, chat.user_id, "the second link queued", state="queued", format_key="best")
    await press_cancel(chat, await status_of(chat, second_message))
    await job_where(bot, chat.user_id, "the second job cancelled", id=second["id"], state="cancelled")
    [sent] = await chat.wait_files(1, timeout=90)  # the first goes on to the end
    assert sent["media"]["size"] == 600000
    jobs = await settled(bot, chat.user_id)
    assert [(j["id"], j["state"]) for j in jobs] == [(first["id"], "done"), (second["id"], "cancelled")]
    assert await streams(http, "cq-second") == []  # never fetched
    assert len(await chat.files()) == 1


async def test_cancel_while_probing_cuts_the_fetch_within_a_second(cancel_bot, http):
    """The site answers 4 s late (a slow site): the probe waits for it. No bytes flow yet to
    measure, so the measure is the downloader's own word that the job stopped (its log line,
    stamped to the millisecond)."""
    bot, chat = cancel_bot, Chat(http, next(users), cancel_bot)
    asked_before = await slow_requests(http)
    link = await chat.say(f"{bot.url}/media/slow?size=600000&rate=20000&delay_ms=4000&t=cp-probe")
    job = await job_where(bot, chat.user_id, "the probe under way", state="probing", worker=None)
    status = await status_of(chat, link)
    await until("the probe waiting for the site", lambda: more_than(asked_before, http), 30)
    pressed = await press_cancel(chat, status)
    stopped = await logged_at(bot, f"job {job['id']} stopped")
    assert stopped - pressed <= WITHIN_S, f"the probe stopped {stopped - pressed:.2f} s after the press"
    await cancelled_and_quiet(chat, bot, job["id"])
    assert not [m for m in await chat.bot_messages() if "Choose" in (m.get("text") or "")]  # no choice came


async def slow_requests(http: httpx.AsyncClient) -> int:
    """How many requests the sandbox's slow route has had (it counts one when a request arrives,
    before its delay)."""
    return int((await http.get("/sandbox/stats")).json()["media_requests"].get("/media/slow", 0))


async def more_than(count: int, http: httpx.AsyncClient) -> bool:
    return await slow_requests(http) > count


async def logged_at(bot: BotProcess, needle: str) -> float:
    """When the bot's log first said `needle` (its own time stamp, as time.time())."""

    async def found() -> float | None:
        for line in bot.log_lines():
            if needle in line:  # key=value lines: ts=2026-12-07T15:29:13.123Z (UTC) ...
                stamp = line.split(" ", 1)[0].removeprefix("ts=")
                return datetime.datetime.fromisoformat(stamp).timestamp()
        return None

    return await until(f"{needle!r} in the log", found, 30, describe=bot.log)


async def test_cancel_while_downloading_stops_the_bytes_within_a_second(cancel_bot, http):
    bot, chat = cancel_bot, Chat(http, next(users), cancel_bot)
    await set_default(chat, "best")
    link = await chat.say(f"{bot.url}/media/slow?size=2000000&rate=150000&t=cd-download")
    job = await job_where(bot, chat.user_id, "the download running", state="downloading")
    await streaming(http, "cd-download", least_bytes=150_000)
    pressed = await press_cancel(chat, await status_of(chat, link))
    took = await stopped_within(http, "cd-download", pressed, WITHIN_S)
    await cancelled_and_quiet(chat, bot, job["id"])
    assert await chat.files() == [] and took <= WITHIN_S


async def test_cancel_while_converting_ends_ffmpeg_within_a_second(cancel_bot, http):
    bot, chat = cancel_bot, Chat(http, next(users), cancel_bot)
    await set_default(chat, "best")
    # VP9 is transcoded: a minute of it is seconds of ffmpeg, however fast the machine
    link = await chat.say(f"{bot.url}/media/long.webm?seconds={CONVERT_SECONDS}&t=cc-convert")
    job = await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
    status = await status_of(chat, link)
    await ffmpeg_running(bot, job["worker"])
    worker_pid = pid_of(bot, job["worker"])
    pressed = await press_cancel(chat, status)

    async def gone() -> float | None:
        return now() if not ffmpegs(worker_pid) else None

    ended = await until("ffmpeg to exit", gone, 30, describe=bot.log)
    assert ended - pressed <= WITHIN_S + 0.1, f"ffmpeg ran {ended - pressed:.2f} s after the press"  # + one poll
    await cancelled_and_quiet(chat, bot, job["id"])
    assert await chat.files() == []


async def test_cancel_mid_playlist_stops_the_entry_and_sends_nothing_after(cancel_bot, http):
    bot, chat = cancel_bot, Chat(http, next(users), cancel_bot)
    await set_default(chat, "best")
    link = await chat.say(f"{bot.url}/media/feed.xml?items=4&rate=20000&tag=cm-list")
    playlist = await job_where(bot, chat.user_id, "the playlist expanded", state="uploading", title=None)
    await chat.wait_files(1, timeout=90)
    await streaming(http, "cm-list", least_bytes=20_000)  # an entry after the first on its way (3 s each)
    sent_before = len(await chat.files())
    status = await status_of(chat, link)
    pressed = await press_cancel(chat, status)
    await stopped_within(http, "cm-list", pressed, WITHIN_S)
    jobs = await settled(bot, chat.user_id)
    assert {j["id"]: j["state"] for j in jobs}[playlist["id"]] == "cancelled"
    assert all(j["state"] in ("done", "cancelled") for j in jobs)
    assert len(await chat.files()) == sent_before < 4  # nothing after the press
    await chat.wait_text("Cancelled")
