"""The whole bot in sandbox mode against the sandbox's hostile manifests: nothing they name
reaches this machine, ffmpeg fetches nothing, and the user hears why (issue: ffmpeg must never
fetch from the network)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import httpx
import pytest
import trio

from core.texts import text
from tests.e2e.answers import Canary, final_answer
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess

users = itertools.count(61_000)
BLOCKED = text("en", "link_refused_address")
OTHER_SCHEME = text("en", "link_refused_scheme")
STREAM_UNSUPPORTED = text("en", "error_stream_unsupported")


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    process = BotProcess(tmp_path_factory.mktemp("ffmpeg-egress"), env={"CIRCUIT_FAILURES": "1000"})
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def http(bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


@pytest.fixture
async def canary(nursery: trio.Nursery) -> Canary:
    return await Canary().start(nursery)


def evil(bot: BotProcess, route: str, **query: str) -> str:
    return f"{bot.url}/media/{route}?{urlencode(query)}"


async def test_a_sample_aes_stream_is_refused_as_unsupported_before_ffmpeg_could_fetch_it(bot, http, canary):
    url = evil(bot, "evil.m3u8", segment=canary.url(), key=canary.url("/key"), method="SAMPLE-AES")
    assert await final_answer(bot, http, users, url, "best") == STREAM_UNSUPPORTED
    assert canary.connections == []


async def test_a_key_ffmpeg_would_open_as_a_raw_connection_is_refused_and_logged(bot, http, canary):
    url = evil(bot, "evil.m3u8", segment=f"{bot.url}/media/sample_000.ts", key=f"httpproxy://127.0.0.1:{canary.port}/")
    assert await final_answer(bot, http, users, url, "best") == OTHER_SCHEME
    assert canary.connections == []
    assert any("egress refused" in line and "(scheme)" in line for line in bot.log_lines())


async def test_an_init_segment_on_this_machine_is_refused_as_a_blocked_address(bot, http, canary):
    url = evil(bot, "evil.m3u8", segment=f"{bot.url}/media/sample_000.ts", map=canary.url("/init.mp4"))
    assert await final_answer(bot, http, users, url, "best") == BLOCKED
    assert canary.connections == []


async def test_a_dash_segment_on_this_machine_is_refused_as_a_blocked_address(bot, http, canary):
    assert await final_answer(bot, http, users, evil(bot, "evil.mpd", segment=canary.url()), "best") == BLOCKED
    assert canary.connections == []
