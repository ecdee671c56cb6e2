"""The admin panel as admins live it, through every process (`run.py --sandbox`, two downloaders):
every command answered for an admin (in Persian) and refused, audited, for anyone else; a
runtime limit in force for the very next links and in every process, a restarted one included;
a bad value refused naming the rule; /queue's cancel stopping a running download and removing
its files; two admins confirming two actions at once; /stats matching the jobs run, and its
chart a PNG drawn outside the gateway while 50 links are answered.

Two bots: `panel_bot` shared by the panel's tests (each with its own users and media URLs), and
a fresh one for /stats, whose figures must be exactly the jobs its test ran.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import trio

from tests.e2e.test_gates import answers, handled, link, query, set_best, slow
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.poll import until

ADMIN, OTHER_ADMIN = 4242, 4343  # a Persian admin and an English one (a user's language is kept)
HTTP_TIMEOUT_S = 30.0
PROCESSES = ("gateway", "uploader", "monitor", "downloader-1", "downloader-2")
LINKS_AT_ONCE = 50
ANSWER_SLACK_S = 1.0  # a link answered while the chart is drawn: at most this much later than the baseline's slowest
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
users = itertools.count(61_000)


@pytest.fixture(scope="module")
def panel_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("panel"), env={"ADMIN_IDS": f"{ADMIN},{OTHER_ADMIN}"}, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(panel_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=panel_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


def audited(bot: BotProcess, since: int) -> list[tuple[int, str, str]]:
    rows = query(bot, "SELECT admin_id, action, detail FROM admin_audit WHERE id > ? ORDER BY id", since)
    return [(int(a), str(b), str(c or "")) for a, b, c in rows]


def last_audit_id(bot: BotProcess) -> int:
    return int(query(bot, "SELECT coalesce(max(id), 0) FROM admin_audit")[0][0])


async def ask(chat: Chat, text: str, needle: str) -> dict[str, Any]:
    """Send and wait for the bot's answer holding `needle` (newer than what was there)."""
    before = {m["message_id"] for m in await chat.bot_messages()}

    async def answered() -> dict[str, Any] | None:
        for m in reversed(await chat.bot_messages()):
            if m["message_id"] not in before and needle in (m.get("text") or ""):
                return m
        return None

    await chat.say(text)
    return await until(f"{needle!r} after {text!r}", answered, 60, describe=chat._describe)


async def edited_to(chat: Chat, message_id: int, needle: str) -> dict[str, Any]:
    async def seen() -> dict[str, Any] | None:
        found = next((m for m in await chat.bot_messages() if m["message_id"] == message_id), None)
        return found if found and needle in (found.get("text") or "") else None

    return await until(f"message {message_id} showing {needle!r}", seen, 60, describe=chat._describe)


def log_lines_with(bot: BotProcess, *words: str) -> list[str]:
    return [line for line in bot.log_lines() if all(w in line for w in words)]


# ---- every command ---------------------------------------------------------------------------------


# command -> what a Persian admin's answer holds
ANSWERS = {
    "/admin": "پنل مدیریت",
    "/stats": "کارهای امروز",
    "/health": "سلامت",
    "/circuit": "قطع‌کننده",
    "/cleanup": "پوشه‌ی جامانده پاک شد",
    "/reset_stats": "صفر شوند؟",
    "/broadcast": "/broadcast را پاسخ بزنید",
    "/ban": "روش استفاده: /ban",
    "/unban": "روش استفاده: /unban",
    "/addsponsor": "روش استفاده: /addsponsor",
    "/delsponsor": "روش استفاده: /delsponsor",
    "/sponsors": "قفل",
    "/maintenance": "حالت تعمیر خاموش است",
    "/limits": "USER_REQUESTS_PER_MIN",
    "/setlimit": "روش استفاده: ‎/setlimit",
    "/queue": "صف",
    "/user 4242": "کاربر ۴۲۴۲",
    "/cancel 999999": "کار #۹۹۹۹۹۹ در جریان یا در انتظار نیست",
    "/audit": "گزارش کارهای مدیران",
}


async def test_every_command_answers_a_persian_admin_and_is_refused_and_audited_for_anyone_else(http, panel_bot):
    admin = Chat(http, ADMIN, panel_bot, lang="fa")
    for command, needle in ANSWERS.items():
        shown = await ask(admin, command, needle)
        assert "Traceback" not in shown["text"]
    nobody = Chat(http, next(users), panel_bot, lang="fa")
    since = last_audit_id(panel_bot)
    refused = [c for c in ANSWERS if not c.startswith("/cancel")]  # /cancel alone is everyone's own
    for command in refused:
        last = await nobody.say(command)
    await handled(panel_bot, nobody, last)
    denied = audited(panel_bot, since)
    assert denied == [(nobody.user_id, "denied", refused[0])]  # audited, and throttled: once a minute
    told = [m["text"] for m in await nobody.bot_messages()]
    assert told and all("مدیران" in t for t in told)  # refused politely, in Persian
    assert len(told) < len(refused), told  # and throttled: not one message an attempt


# ---- runtime limits ---------------------------------------------------------------------------------


async def test_setlimit_is_in_force_for_the_next_links_in_every_process_even_a_restarted_one(http, panel_bot):
    admin = Chat(http, ADMIN, panel_bot, lang="fa")
    user = Chat(http, next(users), panel_bot)
    seen_before = len(log_lines_with(panel_bot, "limits now: USER_REQUESTS_PER_MIN=3"))
    await ask(admin, "/setlimit USER_REQUESTS_PER_MIN 3", "USER_REQUESTS_PER_MIN اکنون ۳ است")
    try:
        for n in range(4):
            last = await user.say(slow(panel_bot, f"limit-{user.user_id}-{n}"))
        await handled(panel_bot, user, last)
        assert len(query(panel_bot, "SELECT id FROM jobs WHERE user_id = ?", user.user_id)) == 3
        await user.wait_text("You have sent 3 links within a minute")
        shown = await ask(admin, "/limits", "USER_REQUESTS_PER_MIN")
        assert re.search(r"✏️ USER_REQUESTS_PER_MIN = ۳ \(در شروع ۱۰\)", shown["text"]), shown["text"]

        async def everywhere() -> list[str] | None:
            lines = log_lines_with(panel_bot, "limits now: USER_REQUESTS_PER_MIN=3")[seen_before:]
            return None if any(not any(f"proc={p} " in line for line in lines) for p in PROCESSES) else lines

        await until("every process to apply the limit", everywhere, 30, describe=panel_bot.log)
        # A downloader killed and restarted gets the limits when it reports ready.
        old = panel_bot.kill("downloader-1")

        async def restarted() -> bool:
            pid = int(panel_bot.processes()["downloader-1"]["pid"])
            return pid != old and bool(
                log_lines_with(panel_bot, f"proc=downloader-1 pid={pid} ", "USER_REQUESTS_PER_MIN=3")
            )

        await until("the restarted downloader to apply the limit", restarted, 60, describe=panel_bot.log)
    finally:
        await ask(admin, "/setlimit USER_REQUESTS_PER_MIN default", "USER_REQUESTS_PER_MIN اکنون ۱۰ است")
    await until(
        "every process back at the start value",
        lambda: _all_logged(panel_bot, "limits now: USER_REQUESTS_PER_MIN=10"),
        30,
        describe=panel_bot.log,
    )


async def _all_logged(bot: BotProcess, words: str) -> bool:
    lines = log_lines_with(bot, words)
    return all(any(f"proc={p} " in line for line in lines) for p in PROCESSES)


async def test_a_bad_value_is_refused_naming_the_rule(http, panel_bot):
    admin = Chat(http, OTHER_ADMIN, panel_bot, lang="en")
    since = last_audit_id(panel_bot)
    shown = await ask(admin, "/setlimit QUEUE_MAX 0", "Not changed")
    assert "QUEUE_MAX must be at least 1" in shown["text"]
    shown = await ask(admin, "/setlimit WORKERS 8", "read at start only")
    assert audited(panel_bot, since) == []


# ---- the queue ----------------------------------------------------------------------------------------


async def wait_state(bot: BotProcess, job_id: int, *states: str, timeout: float = 60) -> None:
    async def there() -> bool:
        rows = query(bot, "SELECT state FROM jobs WHERE id = ?", job_id)
        return bool(rows) and rows[0][0] in states

    await until(f"job {job_id} in {states}", there, timeout, describe=bot.log)


async def running_job(bot: BotProcess, chat: Chat, tag: str) -> int:
    """A download that takes a minute, under way with bytes in the spool."""
    await set_best(chat)  # no choice to wait for
    last = await chat.say(link(bot, "slow", rate=50_000, size=3_000_000, t=tag))
    await handled(bot, chat, last)
    job_id = int(query(bot, "SELECT max(id) FROM jobs WHERE user_id = ?", chat.user_id)[0][0])
    await wait_state(bot, job_id, "downloading")

    async def has_bytes() -> bool:  # in its attempt's folder, spool/<job>-<lease>
        files = [p for p in (bot.data_dir / "spool").glob(f"{job_id}-*/*") if p.is_file()]
        return any(p.stat().st_size for p in files)

    await until(f"job {job_id}'s bytes in the spool", has_bytes, 60, describe=bot.log)
    return job_id


async def test_queue_cancel_stops_a_running_download_and_removes_its_files(http, panel_bot):
    admin = Chat(http, OTHER_ADMIN, panel_bot, lang="en")
    user = Chat(http, next(users), panel_bot, lang="fa")
    job_id = await running_job(panel_bot, user, f"qc-{user.user_id}")
    page = await ask(admin, "/queue", f"#{job_id} ·")
    assert re.search(rf"#{job_id} · 👤 {user.user_id} · 127\.0\.0\.1 · downloading( \d+ %)? · \d+ s", page["text"])
    await admin.press(page["message_id"], button(page, f"#{job_id}")["callback_data"])
    confirm = await edited_to(admin, page["message_id"], f"Cancel job #{job_id}")
    await admin.press(page["message_id"], button(confirm, "Yes")["callback_data"])
    await edited_to(admin, page["message_id"], f"Job #{job_id} is cancelled")
    await wait_state(panel_bot, job_id, "cancelled", timeout=5)

    async def files_gone() -> bool:
        return not list((panel_bot.data_dir / "spool").glob(f"{job_id}-*"))

    await until("the cancelled download's files removed", files_gone, 10, describe=panel_bot.log)
    await user.wait_text("یکی از مدیران مجبور شد دانلود شما")
    assert not await user.files()
    assert (OTHER_ADMIN, "cancel") in [(a, act) for a, act, _ in audited(panel_bot, 0)]


async def test_two_admins_confirm_two_different_actions_at_once(http, panel_bot):
    first_admin, second_admin = Chat(http, OTHER_ADMIN, panel_bot), Chat(http, ADMIN, panel_bot, lang="fa")
    one, two = Chat(http, next(users), panel_bot), Chat(http, next(users), panel_bot)
    job_one = await running_job(panel_bot, one, f"two-a-{one.user_id}")
    job_two = await running_job(panel_bot, two, f"two-b-{two.user_id}")
    page = await ask(first_admin, "/queue", f"#{job_one} ·")
    profile = await ask(second_admin, f"/user {two.user_id}", f"کاربر {two.user_id}".translate(_FA_DIGITS))
    await first_admin.press(page["message_id"], button(page, f"#{job_one}")["callback_data"])
    await second_admin.press(profile["message_id"], button(profile, "مسدود کن")["callback_data"])
    yes_one = button(await edited_to(first_admin, page["message_id"], "Cancel job"), "Yes")["callback_data"]
    yes_two = button(await edited_to(second_admin, profile["message_id"], "مسدود شود؟"), "بله")["callback_data"]
    since = last_audit_id(panel_bot)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first_admin.press, page["message_id"], yes_one)
        nursery.start_soon(second_admin.press, profile["message_id"], yes_two)
    await wait_state(panel_bot, job_one, "cancelled")
    await wait_state(panel_bot, job_two, "cancelled")
    await edited_to(first_admin, page["message_id"], f"Job #{job_one} is cancelled")
    await edited_to(second_admin, profile["message_id"], "مسدود شد")
    assert sorted((a, act) for a, act, _ in audited(panel_bot, since)) == [(ADMIN, "ban"), (OTHER_ADMIN, "cancel")]
    assert query(panel_bot, "SELECT banned, banned_by FROM users WHERE id = ?", two.user_id) == [(1, ADMIN)]


_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


async def test_the_admin_menu_reaches_the_queue_and_asks_for_a_users_id(http, panel_bot):
    admin = Chat(http, OTHER_ADMIN, panel_bot)
    menu = await ask(admin, "/admin", "Admin panel")
    assert len(buttons(menu)) == 17
    await admin.press(menu["message_id"], button(menu, "Queue")["callback_data"])
    await admin.wait_text("Queue")
    await admin.press(menu["message_id"], button(menu, "A user")["callback_data"])
    await admin.wait_text("Send the user's id")
    await ask(admin, str(ADMIN), f"User {ADMIN}")
    assert all(a.get("text") in (None, "") for a in (await answers(admin))[-2:])


# ---- /stats and its chart (a bot of its own: its figures are exactly this test's jobs) -------------------


@pytest.fixture(scope="module")
def stats_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    env = {"ADMIN_IDS": str(ADMIN), "USER_REQUESTS_PER_MIN": "100"}
    bot = BotProcess(tmp_path_factory.mktemp("stats"), env=env, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


def gateway_memory(bot: BotProcess) -> tuple[float, bool]:
    """The gateway's RSS (MB), and whether an imaging library is mapped in it."""
    process = psutil.Process(int(bot.processes()["gateway"]["pid"]))
    maps = Path(f"/proc/{process.pid}/maps").read_text()
    return process.memory_info().rss / 1e6, any(word in maps for word in ("PIL", "_imaging", "libraqm"))


async def first_answers(http: httpx.AsyncClient, chats: list[Chat], sent_at: dict[int, float]) -> list[float]:
    """Seconds from each user's link to the bot's first answer, by the sandbox's clock."""

    async def all_answered() -> list[float] | None:
        delays = []
        for chat in chats:
            mine = [m for m in await chat.messages() if m["at"] >= sent_at[chat.user_id]]
            user = next((m for m in mine if m["from"] == "user"), None)
            bot = next((m for m in mine if m["from"] == "bot"), None)
            if user is None or bot is None:
                return None
            delays.append(bot["at"] - user["at"])
        return delays

    return await until("every link answered", all_answered, 120)


async def fifty_links(http: httpx.AsyncClient, bot: BotProcess, tag: str, also: Any = None) -> list[float]:
    chats = [Chat(http, next(users), bot) for _ in range(LINKS_AT_ONCE)]
    sent_at = {c.user_id: 0.0 for c in chats}
    async with trio.open_nursery() as nursery:
        if also is not None:
            nursery.start_soon(also)
        for chat in chats:
            nursery.start_soon(chat.say, link(bot, "status", code=404, t=f"{tag}-{chat.user_id}"))
    delays = await first_answers(http, chats, sent_at)

    async def all_over() -> bool:  # the next batch meets a bot at rest, not this one's failures and their sends
        jobs = query(bot, "SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed', 'cancelled')")
        sends = query(bot, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")
        return jobs[0][0] == 0 and sends[0][0] == 0

    await until("the batch's jobs over", all_over, 120, describe=bot.log)
    return delays


async def test_stats_match_the_jobs_run_and_the_chart_is_drawn_outside_the_gateway(stats_bot):
    async with httpx.AsyncClient(base_url=stats_bot.url, timeout=HTTP_TIMEOUT_S) as http:
        admin = Chat(http, ADMIN, stats_bot)
        one, two = Chat(http, next(users), stats_bot), Chat(http, next(users), stats_bot)
        await set_best(one)
        await set_best(two)
        for n in range(3):
            await one.say(link(stats_bot, "slow", rate=5_000_000, size=20_000, t=f"st{n}"))
        await one.wait_files(3)
        await two.say(link(stats_bot, "slow", rate=5_000_000, size=20_000, t="st0"))  # the cache sends it again
        await two.wait_files(1)
        await two.say(link(stats_bot, "status", code=404, t="st-gone"))
        await two.wait_text("I couldn't find anything at this link")
        shown = await ask(admin, "/stats", "Statistics")
        text = shown["text"]
        assert "Users: 3 · new today 3 · active in 24 h 3 · in 7 days 3 · blocked the bot 0 · banned 0" in text
        assert "Jobs today: 5 · done 4 · failed 1 · cancelled 0 · unfinished 0" in text
        assert "by platform: Generic 5" in text, text
        assert "Success rate (7 days, done of done and failed): 80.0 %" in text
        assert "Cache hit rate (7 days): 25.0 % (1 of 4 files" in text
        assert "Queue now: running 0 · waiting 0 · choosing 0" in text
        times = re.search(r"link to file ([\d.]+) s · download ([\d.]+) s · upload ([\d.]+) s", text)
        assert times and float(times[1]) >= float(times[2]) > 0 and float(times[3]) >= 0, text
        photo = await until("the chart", lambda: _photo(admin), 60, describe=stats_bot.log)
        data = (await http.get(photo["media"]["url"])).content
        assert data[:8] == PNG_SIGNATURE and photo["media"]["kind"] == "photo"

        async def chart_folder_gone() -> bool:  # the uploader removes it once the photo is sent
            return not list((stats_bot.data_dir / "spool").glob("chart-*"))

        await until("the chart's spool folder removed", chart_folder_gone, 10, describe=stats_bot.log)

        # 50 links answered while a chart is drawn: no later than without one (and a margin).
        rss_before, _ = gateway_memory(stats_bot)
        baseline = await fifty_links(http, stats_bot, "base")
        charts_before = len(await _photos(admin))
        during = await fifty_links(http, stats_bot, "chart", also=lambda: admin.say("/stats"))
        await until("the second chart", lambda: _more_photos(admin, charts_before), 60, describe=stats_bot.log)
        rss_after, imaging = gateway_memory(stats_bot)
        print(
            f"first answers to {LINKS_AT_ONCE} links: without a chart median {statistics.median(baseline):.3f} s,"
            f" max {max(baseline):.3f} s; while one is drawn median {statistics.median(during):.3f} s,"
            f" max {max(during):.3f} s; gateway RSS {rss_before:.1f} -> {rss_after:.1f} MB"
        )
        assert max(during) <= max(baseline) + ANSWER_SLACK_S, (baseline, during)
        assert not imaging  # the drawing library never entered the gateway


async def _photos(chat: Chat) -> list[dict[str, Any]]:
    return [m for m in await chat.files() if m["media"]["kind"] == "photo"]


async def _photo(chat: Chat) -> dict[str, Any] | None:
    found = await _photos(chat)
    return found[-1] if found else None


async def _more_photos(chat: Chat, count: int) -> bool:
    return len(await _photos(chat)) > count
