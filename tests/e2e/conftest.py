"""The e2e suites share one bot per module where they can (starting one costs seconds): each test
uses its own users and its own media URLs, so tests never see each other's jobs or cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.bot import BotProcess

HTTP_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def shared_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("bot"), env={"ADMIN_IDS": "4242"}, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(shared_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shared_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client
