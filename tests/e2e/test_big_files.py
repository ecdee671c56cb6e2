"""A video over the upload cap is cut at key frames into parts under it: each a playable H.264 MP4
with the moov atom first, sent as "Part i of n", in order, their durations adding up to the
whole. (The cap is lowered to 1 MiB here so that a two-minute sample is "big".)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import set_default

MINUTES = 2
CAP = {"UPLOAD_LIMIT_MB": "1", "MAX_FILE_MB": "50", "ADMIN_IDS": "4242"}


@pytest.fixture(scope="module")
def small_cap_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("bigfiles"), env=CAP, workers=1)
    try:
        yield bot
    finally:
        bot.stop()


async def test_a_video_over_the_cap_arrives_in_playable_parts_that_add_up(small_cap_bot):
    async with httpx.AsyncClient(base_url=small_cap_bot.url, timeout=HTTP_TIMEOUT_S) as http:
        chat = Chat(http, 95_001, small_cap_bot)
        await set_default(chat, "best")
        await chat.say(f"{small_cap_bot.url}/media/long.m3u8?minutes={MINUTES}")

        async def parts() -> list[dict] | None:
            files = await chat.files()
            labels = [f.get("caption", "") for f in files]
            total = next((int(x.split(" of ")[1].split()[0]) for x in labels if " of " in x), 0)
            return files if total and len(files) == total else None

        from tests.support.poll import until

        sent = await until("every part", parts, 240, describe=small_cap_bot.log)
    assert len(sent) >= 2
    for index, message in enumerate(sent, 1):
        media = message["media"]
        assert media["kind"] == "video" and media["size"] < 1024 * 1024
        assert (media["video_codec"], media["faststart"], media["supports_streaming"]) == ("h264", True, True)
        assert f"Part {index} of {len(sent)}" in message["caption"]
    assert abs(sum(m["media"]["duration"] for m in sent) - MINUTES * 60) <= len(sent)  # whole seconds each
