"""A link becomes a file, as a user lives it: the choice, the file with its details, the cache,
cancel, several links; through every process, with real yt-dlp and ffmpeg, against the sandbox."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from core.texts import text
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.journey import link, set_default, settled, stats
from tests.support.poll import until

users = itertools.count(20_000)


async def test_a_video_link_offers_video_and_audio_and_the_video_arrives_with_its_details(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    url = link(shared_bot, "sample.mp4", t="details")
    asked = await chat.say(url)
    offer = await chat.wait_buttons()
    assert offer["reply_to_message_id"] == asked  # the status is a reply to the link
    labels = [b["text"] for b in buttons(offer)]
    assert (
        any("Video" in t for t in labels) and any("Audio" in t for t in labels) and any("Cancel" in t for t in labels)
    )
    await chat.press(offer["message_id"], button(offer, "Video")["callback_data"])
    [sent] = await chat.wait_files(1)
    video = sent["media"]
    assert video["kind"] == "video"
    assert video["duration"] >= 3 and (video["width"], video["height"]) == (320, 240)
    assert video["has_thumbnail"]
    assert sent["reply_to_message_id"] == asked
    assert url in (sent.get("html") or "")  # the caption links the source
    # The status message is gone once the file is there.
    await until("the status to be removed", lambda: _status_gone(chat, offer["message_id"]), 30)


async def _status_gone(chat: Chat, message_id: int) -> bool:
    return all(m["message_id"] != message_id for m in await chat.bot_messages())


async def test_audio_only_arrives_as_audio(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "sample.mp4", t="audio"))
    offer = await chat.wait_buttons()
    await chat.press(offer["message_id"], button(offer, "Audio")["callback_data"])
    [sent] = await chat.wait_files(1)
    assert sent["media"]["kind"] == "audio" and sent["media"]["duration"] >= 3


async def test_a_saved_default_skips_the_question_and_costs_at_most_three_sends(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    before = len(await chat.bot_messages(with_deleted=True))
    await chat.say(link(shared_bot, "sample.mp4", t="default"))
    [sent] = await chat.wait_files(1)
    assert sent["media"]["kind"] == "video"
    await until("only the file to be left", lambda: _only_files_left(chat, before), 30)
    after = await chat.bot_messages(with_deleted=True)
    new = after[before:]
    # No question, no progress edit: the file alone (ready within STATUS_DELAY_S), or the status,
    # the file and the status removed (test_quiet_status.py tells the two apart on purpose).
    assert len(new) in (1, 2) and sum(m["edit_count"] for m in new) == 0
    assert [m["deleted"] for m in new if not m.get("media")] in ([], [True])


async def _only_files_left(chat: Chat, skip: int) -> bool:
    return all(m["deleted"] or m.get("media") for m in (await chat.bot_messages(with_deleted=True))[skip:])


async def test_the_second_user_gets_the_cached_file_without_any_new_media_request(shared_bot, http):
    first, second = Chat(http, next(users), shared_bot), Chat(http, next(users), shared_bot)
    url = link(shared_bot, "sample.mp4", t="cache")
    for chat in (first, second):
        await set_default(chat, "best")
    await first.say(url)
    [one] = await first.wait_files(1)
    requests_before = (await stats(http))["media_requests"]
    await second.say(url + "&utm_source=newsletter")  # a tracking parameter is not another media
    [two] = await second.wait_files(1)
    assert two["media"]["file_id"] == one["media"]["file_id"]
    assert (await stats(http))["media_requests"] == requests_before


async def test_cancel_while_choosing_says_cancelled_and_no_file_comes(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "sample.mp4", t="cancel-choice"))
    offer = await chat.wait_buttons()
    await chat.press(offer["message_id"], button(offer, "Cancel")["callback_data"])
    cancelled = await chat.wait_text("Cancelled")
    assert cancelled["message_id"] == offer["message_id"] and buttons(cancelled) == []  # no choice left to press
    await until("the press to be answered", lambda: _answered(chat, "Cancelled"), 30)
    assert await chat.files() == []


async def _answered(chat: Chat, word: str) -> bool:
    response = await chat.http.get(f"/sandbox/users/{chat.user_id}/chat")
    return any(word in (a.get("text") or "") for a in response.json()["callback_answers"])


async def test_several_links_in_one_message_each_become_a_file(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    urls = [link(shared_bot, "sample.mp4", t=f"many{i}") for i in range(3)]
    await chat.say("take these: " + " and ".join(urls))
    sent = await chat.wait_files(3, timeout=90)
    assert sorted(m["media"]["kind"] for m in sent) == ["video"] * 3


@pytest.mark.parametrize("lang", ["fa"])
async def test_persian_users_read_persian_with_persian_digits(shared_bot, http, lang):
    chat = Chat(http, next(users), shared_bot, lang=lang)
    await chat.say(link(shared_bot, "sample.m3u8", t="fa"))  # HLS tells its duration
    offer = await chat.wait_buttons()
    assert "کیفیت" in offer["text"] and any("لغو" in b["text"] for b in buttons(offer))
    assert "۰:۰۴" in offer["text"]  # the duration, in Persian digits


async def test_a_jobs_spool_folder_holds_its_files_while_it_runs_and_is_gone_when_it_ends(shared_bot, http):
    bot = shared_bot
    chat = Chat(http, next(users), bot)
    await set_default(chat, "best")
    await chat.say(link(bot, "slow", size=600_000, rate=150_000, t="spool-done"))  # about 4 s
    [job] = await until("the job", lambda: _jobs(bot, chat.user_id), 30)
    await until(
        "the download in the job's spool folder", lambda: any(any(f.iterdir()) for f in _spool(bot, job[0])), 60
    )
    failed = await chat.say(link(bot, "status", code=404, t="spool-failed"))
    await chat.wait_files(1)
    await chat.wait_text(text("en", "error_not_found"))
    await settled(bot, chat.user_id, last_message=failed)
    jobs = _jobs(bot, chat.user_id)
    assert [state for _, state in jobs] == ["done", "failed"]
    await until("the jobs' spool folders removed", lambda: not any(_spool(bot, job_id) for job_id, _ in jobs), 30)


def _jobs(bot: BotProcess, user_id: int) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in bot.query("SELECT id, state FROM jobs WHERE user_id = ? ORDER BY id", user_id)]


def _spool(bot: BotProcess, job_id: int) -> list[Path]:
    """The folders of the job's attempts (spool/<job>-<lease>)."""
    return [f for f in (bot.data_dir / "spool").glob(f"{job_id}-*") if f.is_dir()]


async def test_a_slow_probe_shows_that_the_link_is_being_looked_at(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    # The page answers after 9 s: the status says "looking" once an edit interval has passed.
    await chat.say(link(shared_bot, "page.html", t="slow-probe", delay_ms=9000))
    looking = await chat.wait_text("Looking at the link", timeout=30)
    assert button(looking, "Cancel")  # cancel stays offered in every phase
    offer = await chat.wait_buttons(timeout=30)
    assert offer["message_id"] == looking["message_id"]  # the same status message, edited
    await chat.press(offer["message_id"], button(offer, "Cancel")["callback_data"])
    await chat.wait_text("Cancelled")
