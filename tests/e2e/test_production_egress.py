"""Outside sandbox mode the guard lets the public internet through and still refuses this machine:
a media server on a documentation address in a network namespace of the test's own is reached,
while a loopback canary is refused. (Telegram is still the sandbox, started here on its own.)"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from core.texts import text
from tests.support.bot import BotProcess, Chat
from tests.support.netns import netns_http_server, netns_unavailable
from tests.support.sandbox import SandboxProcess

pytestmark = pytest.mark.skipif(bool(netns_unavailable()), reason=netns_unavailable() or "")


@pytest.fixture(scope="module")
def telegram_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("telegram")


@pytest.fixture(scope="module")
def telegram(telegram_dir: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(telegram_dir)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def media_host(tmp_path_factory: pytest.TempPathFactory, telegram: SandboxProcess) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("public")
    clip = httpx.get(f"{telegram.url}/media/sample.mp4", timeout=30)  # the sandbox's sample, over loopback
    clip.raise_for_status()
    (folder / "clip.mp4").write_bytes(clip.content)
    with netns_http_server(folder) as host:
        yield host.url("/clip.mp4")


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory, telegram: SandboxProcess) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("real"), telegram_url=telegram.url, env={"ADMIN_IDS": "4242"})
    try:
        yield bot
    finally:
        bot.stop()


async def test_a_public_host_is_reached_and_this_machine_is_not(real_bot, media_host, nursery):
    connections: list[str] = []

    async def canary(stream: trio.SocketStream) -> None:
        connections.append("connected")

    listeners = await nursery.start(partial(trio.serve_tcp, canary, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    async with httpx.AsyncClient(base_url=real_bot.url, timeout=30) as http:
        chat = Chat(http, 70_001, real_bot)
        await chat.say(media_host)
        offer = await chat.wait_buttons(timeout=90)
        video = next(b for b in offer["reply_markup"]["inline_keyboard"][0])
        await chat.press(offer["message_id"], video["callback_data"])
        [sent] = await chat.wait_files(1, timeout=90)
        assert sent["media"]["kind"] == "video"

        other = Chat(http, 70_002, real_bot)
        await other.say(f"http://127.0.0.1:{port}/clip.mp4")
        await other.wait_text(text("en", "link_refused_address"), timeout=60)
    assert connections == []
