"""Inline mode end to end: a user types `@bot <link>` in another chat through the sandbox's
inline API. An uncached link, chosen, is uploaded to the storage chat (STORAGE_CHAT_ID) and its
message in the target chat is edited into the file, with the status shown in between; a cached
link answers with the cached file; a user who has not joined a sponsor channel gets only the
button that opens the private chat; without a storage chat only cached files are offered."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from core.texts import text
from sandbox.world import CHANNEL_ID_BASE
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.journey import link
from tests.support.poll import until

users = itertools.count(180_000)
ADMIN = 4242
STORAGE = "inline_storage"
STORAGE_ID = -(CHANNEL_ID_BASE + 1)  # the first channel made in a fresh sandbox (made first below)
FILE_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def inline_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(
        tmp_path_factory.mktemp("inline"), env={"ADMIN_IDS": str(ADMIN), "STORAGE_CHAT_ID": str(STORAGE_ID)}
    )
    try:
        made = httpx.post(
            f"{bot.url}/sandbox/chats", json={"username": STORAGE, "type": "channel", "title": "storage"}, timeout=30
        )
        assert made.status_code == 200 and made.json()["chat"]["id"] == STORAGE_ID, made.text
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(inline_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=inline_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def typed(http: httpx.AsyncClient, bot: BotProcess, user_id: int, query: str) -> dict[str, Any]:
    """The user types `@bot <query>`; the bot's answer once it came."""
    sent = await http.post(f"/sandbox/users/{user_id}/inline", json={"query": query, "first_name": "Inline"})
    assert sent.status_code == 200, sent.text

    async def answered() -> dict[str, Any] | None:
        view = (await http.get(f"/sandbox/users/{user_id}/inline")).json()
        return view["query"] if view["query"] and view["query"]["answered"] else None

    return await until(f"an answer to {query!r}", answered, 60, describe=bot.log)


async def choose(http: httpx.AsyncClient, user_id: int, result_id: str) -> dict[str, Any]:
    chosen = await http.post(f"/sandbox/users/{user_id}/inline", json={"result_id": result_id})
    assert chosen.status_code == 200, chosen.text
    return dict(chosen.json())


async def target_message(http: httpx.AsyncClient, user_id: int, message_id: int) -> dict[str, Any]:
    view = (await http.get(f"/sandbox/users/{user_id}/inline")).json()
    return next(m for m in view["target"]["messages"] if m["message_id"] == message_id)


async def test_an_uncached_link_chosen_ends_as_the_file_with_the_status_in_between(inline_bot, http):
    user = next(users)
    url = link(inline_bot, "sample.mp4", tag="inline-new")
    answer = await typed(http, inline_bot, user, url)
    ids = [r["id"] for r in answer["results"]]
    assert ids == ["video", "audio"], answer["results"]  # nothing cached yet
    assert answer["is_personal"] is True
    chosen = await choose(http, user, "video")
    assert chosen["inline_message_id"], chosen

    async def became_the_file() -> dict[str, Any] | None:
        message = await target_message(http, user, chosen["message_id"])
        return message if message.get("media") else None

    message = await until("the inline message as the video", became_the_file, FILE_TIMEOUT_S, describe=inline_bot.log)
    assert message["media"]["kind"] == "video" and message["media"]["video_codec"] == "h264"
    assert message["edit_count"] >= 2, message  # the queue's words (at least), then the file
    assert "127.0.0.1" in message["caption"]  # the source, as under every file
    [job] = inline_bot.rows("SELECT chat_id, state, format_key FROM jobs WHERE user_id = ?", user)
    assert job["chat_id"] == STORAGE_ID and job["state"] == "done", job
    stored = inline_bot.query(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND kind = 'media' AND state = 'sent'", STORAGE_ID
    )
    assert stored[0][0] >= 1

    # The same link again, by someone else: the cached file is offered and sent as it is.
    other = next(users)
    again = await typed(http, inline_bot, other, url)
    cached = [r for r in again["results"] if r["type"] == "video"]
    assert len(cached) == 1 and cached[0]["video_file_id"], again["results"]
    sent = await choose(http, other, cached[0]["id"])
    message = await target_message(http, other, sent["message_id"])
    assert message["media"]["kind"] == "video"
    assert message["media"]["file_unique_id"]
    assert inline_bot.query("SELECT count(*) FROM jobs WHERE user_id = ?", other)[0][0] == 0  # no job: no fetch


async def test_a_user_who_has_not_joined_gets_the_join_button(inline_bot, http):
    channel = "inline_sponsor"
    made = await http.post("/sandbox/chats", json={"username": channel, "type": "channel", "title": channel})
    assert made.status_code == 200, made.text
    admin = Chat(http, ADMIN, inline_bot)
    await admin.say(f"/addsponsor @{channel}")
    await admin.wait_text(f"@{channel}")
    try:
        user = next(users)
        answer = await typed(http, inline_bot, user, link(inline_bot, "sample.mp4", tag="inline-lock"))
        assert answer["results"] == []
        assert answer["button"]["text"] == text("fa", "inline_join")  # no language given: the default, Persian
        assert answer["button"]["start_parameter"] == "join"
        assert inline_bot.query("SELECT count(*) FROM jobs WHERE user_id = ?", user)[0][0] == 0
    finally:
        await admin.say(f"/delsponsor @{channel}")
        await until(
            "the lock removed",
            lambda: not inline_bot.query("SELECT 1 FROM sponsors WHERE username = ? AND active = 1", channel),
            30,
        )


@pytest.fixture(scope="module")
def storeless_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("storeless"), env={"ADMIN_IDS": str(ADMIN)})
    try:
        yield bot
    finally:
        bot.stop()


async def test_without_a_storage_chat_only_cached_files_are_offered_and_the_button_says_why(storeless_bot):
    async with httpx.AsyncClient(base_url=storeless_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        user = next(users)
        answer = await typed(client, storeless_bot, user, "ببین " + link(storeless_bot, "sample.mp4", tag="no-store"))
        assert answer["results"] == []
        assert answer["button"] == {"text": text("fa", "inline_no_storage"), "start_parameter": "inline"}
