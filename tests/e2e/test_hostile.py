"""The hostile internet: links that aim at this machine are refused with their reason and never
fetched; every failure is one clear message in the user's language; transient failures are
retried and permanent ones are not; limits hold before and during the download; cookies are
used only when private, and only as a copy."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import trio

from core.texts import text
from tests.e2e.answers import Canary, final_answer
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default
from tests.support.poll import until

users = itertools.count(60_000)
LIMITS = {
    "ADMIN_IDS": "4242",
    "MAX_FILE_MB": "1",
    "DOWNLOAD_STALL_S": "3",
    "JOB_RETRY_DELAY": "0.2",
    "JOB_RETRY_MAX_DELAY": "2",
    "CIRCUIT_FAILURES": "1000",  # this module's failures must not pause the sandbox's host
}


@pytest.fixture(scope="module")
def hostile_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("hostile"), env=LIMITS, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(hostile_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hostile_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


@pytest.fixture
async def canary(nursery: trio.Nursery) -> Canary:
    return await Canary().start(nursery)


def job_of(bot: BotProcess, user_id: int) -> dict:
    [job] = bot.rows("SELECT * FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT 1", user_id)
    return job


async def answered(bot: BotProcess, http: httpx.AsyncClient, url: str, lang: str = "en", **extra: object) -> str:
    """Send `url` as a new user with a saved default (no question) and return the bot's last words,
    once nothing more can happen in the chat (no file came, none is on its way)."""
    return await final_answer(bot, http, users, url, "best" if lang == "en" else "بهترین", lang, **extra)


INTERNAL = text("en", "link_refused_address")


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://0x7f000001:{port}/",
        "http://2130706433:{port}/",
        "http://127.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
async def test_every_spelling_of_this_machine_is_refused_and_never_reached(hostile_bot, http, canary, spelling):
    words = await answered(hostile_bot, http, spelling.format(port=canary.port))
    assert words == INTERNAL
    assert canary.connections == []


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_a_redirect_from_the_sandbox_to_this_machine_is_refused(hostile_bot, http, canary, code):
    target = f"http://127.0.0.1:{canary.port}/x.mp4"
    words = await answered(hostile_bot, http, f"{hostile_bot.url}/media/redirect?code={code}&to={target}")
    assert words == INTERNAL and canary.connections == []


async def test_an_hls_playlist_with_a_segment_on_this_machine_is_refused(hostile_bot, http, canary):
    segment = f"http://127.0.0.1:{canary.port}/seg.ts"
    words = await answered(hostile_bot, http, f"{hostile_bot.url}/media/evil.m3u8?segment={segment}")
    assert words == INTERNAL and canary.connections == []


async def test_the_monitors_port_is_refused(hostile_bot, http):
    words = await answered(hostile_bot, http, f"http://127.0.0.1:{hostile_bot.monitor_port}/healthz")
    assert words == INTERNAL


async def test_other_schemes_and_credentials_are_refused_with_their_reason(hostile_bot, http, canary):
    for url, key in (
        ("file:///etc/passwd", "link_refused_scheme"),
        (f"ftp://127.0.0.1:{canary.port}/x", "link_refused_scheme"),
        (f"http://user:pass@{hostile_bot.url.removeprefix('http://')}/media/sample.mp4", "link_refused_credentials"),
    ):
        chat = Chat(http, next(users), hostile_bot)
        entities = [{"type": "text_link", "offset": 0, "length": 4, "url": url}]
        await chat.say("this", entities=entities)
        await chat.wait_text(text("en", key))
        assert await chat.files() == []
    assert canary.connections == []


CLASSES = [
    ("status?code=404", "error_not_found"),
    ("status?code=410", "error_not_found"),
    ("status?code=403", "error_private"),
    ("status?code=451", "error_geo_blocked"),
    ("status?code=429", "error_rate_limited"),
    ("status?code=500", "error_network"),
    ("live.m3u8", "error_live"),
    ("long.m3u8?minutes=200", "error_too_long"),
    ("blob?size=3000000", "error_too_large"),
]


@pytest.mark.parametrize(("route", "key"), CLASSES, ids=[c[1].removeprefix("error_") for c in CLASSES])
async def test_each_failure_class_has_its_message_in_english_and_persian(hostile_bot, http, route, key):
    sep = "&" if "?" in route else "?"
    for lang in ("en", "fa"):
        url = f"{hostile_bot.url}/media/{route}{sep}u={next(users)}"
        words = await answered(hostile_bot, http, url, lang=lang)
        expected = {"error_too_long": {"limit": 180}, "error_too_large": {"limit": 1}}.get(key, {})
        assert words == text(lang, key, **expected), (lang, words)


async def test_an_unsupported_page_says_so(hostile_bot, http):
    words = await answered(hostile_bot, http, f"{hostile_bot.url}/?page=no-media")
    assert words == text("en", "error_unsupported")


async def test_a_transient_failure_is_retried_and_delivered_and_a_permanent_one_is_not_retried(hostile_bot, http):
    chat = Chat(http, next(users), hostile_bot)
    await set_default(chat, "best")
    await chat.say(f"{hostile_bot.url}/media/flaky?fail=2&key=retry-{chat.user_id}")
    await chat.wait_files(1, timeout=90)
    assert job_of(hostile_bot, chat.user_id)["attempts"] >= 2
    url = f"{hostile_bot.url}/media/status?code=404&u=gone-{chat.user_id}"
    assert await answered(hostile_bot, http, url) == text("en", "error_not_found")
    [gone] = hostile_bot.rows("SELECT state, attempts FROM jobs WHERE url = ?", url)
    assert gone == {"state": "failed", "attempts": 1}  # tried once, and not again


async def test_the_size_cap_holds_during_a_download_of_unknown_size(hostile_bot, http):
    words = await answered(hostile_bot, http, f"{hostile_bot.url}/media/stream?size=3000000")
    assert words == text("en", "error_too_large", limit=1)
    await until("no partial file", lambda: _no_spool(hostile_bot), 20)


async def test_a_stall_is_cut_after_the_stall_timeout_and_the_download_tried_again(hostile_bot, http):
    chat = Chat(http, next(users), hostile_bot)
    await set_default(chat, "best")
    requests = (await http.get("/sandbox/stats")).json()["media_requests"].get("/media/stall", 0)
    # The first GET is yt-dlp looking at the link (it reads a little and stops), the second the
    # download, which goes silent after 20 kB: after DOWNLOAD_STALL_S (3 s here) it is cut and
    # fetched again from where it stopped.
    started = trio.current_time()
    await chat.say(f"{hostile_bot.url}/media/stall?after=20000&times=2&key=stall-{chat.user_id}")
    [sent] = await chat.wait_files(1, timeout=120)
    assert trio.current_time() - started >= 3
    assert sent["media"]["kind"] == "video" and sent["media"]["size"] > 20000
    after = (await http.get("/sandbox/stats")).json()["media_requests"]["/media/stall"]
    assert after - requests >= 3  # the look, the stalled download, the download again


async def test_a_cut_connection_is_retried_and_leaves_no_partial_file(hostile_bot, http):
    chat = Chat(http, next(users), hostile_bot)
    words = await answered(hostile_bot, http, f"{hostile_bot.url}/media/drop?after=20000&u={chat.user_id}")
    assert words == text("en", "error_network")
    await until("no partial file", lambda: _no_spool(hostile_bot), 20)


async def _no_spool(bot: BotProcess) -> bool:
    return not bot.spool_files()


async def test_cookies_are_used_only_from_a_private_file_and_only_as_a_copy(hostile_bot, http):
    folder = hostile_bot.data_dir / "cookies"
    folder.mkdir(exist_ok=True)
    jar = folder / "generic.txt"
    jar.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts3cret\n")
    url = f"{hostile_bot.url}/media/cookie?name=session&value=s3cret"
    try:
        os.chmod(jar, 0o644)  # readable by anyone: refused
        words = await answered(hostile_bot, http, url + "&try=open")
        assert words == text("en", "error_login_required")
        os.chmod(jar, 0o600)
        before = (jar.read_bytes(), jar.stat().st_mtime_ns)
        chat = Chat(http, next(users), hostile_bot)
        await set_default(chat, "best")
        await chat.say(url + "&try=private")
        await chat.wait_files(1, timeout=90)
        assert (jar.read_bytes(), jar.stat().st_mtime_ns) == before  # yt-dlp wrote into its own copy
    finally:
        jar.unlink(missing_ok=True)
