"""The SSRF guard end to end in production mode: the bot runs for real (no --sandbox: the
production egress rules), its Telegram is a sandbox on loopback, and "the internet" is a second
sandbox inside a network namespace of the test's own, on a documentation address. That public
host serves what an attacker would: a redirect, an HLS playlist, a page and a DASH manifest
that point at this machine, and a DNS server (EGRESS_RESOLVER) that answers a name with the
public address first and loopback next (DNS rebinding). Nothing may reach this machine's
canary, and each link gets the "blocked address" answer. Nothing here aims at any address
outside this machine. Root and `ip netns` only; skipped elsewhere, with the reason.
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import pytest

from core.texts import text
from sandbox.__main__ import READY_PREFIX
from tests.e2e.answers import final_answer
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat
from tests.support.netns import Namespace, netns_namespace, netns_unavailable
from tests.support.paths import ROOT
from tests.support.sandbox import SandboxProcess

pytestmark = pytest.mark.skipif(bool(reason := netns_unavailable()), reason=reason or "")

users = itertools.count(62_000)
BLOCKED = text("en", "link_refused_address")
DNS_READY = "DNS_READY "
REBINDING_NAME = "rebind.test"
ACCEPT_BACKLOG = 16


@dataclass
class Canary:
    """This machine's loopback, listening where the hostile links point; counts connections.
    A thread, so that the module's tests (each in its own trio loop) share it."""

    sock: socket.socket = field(default_factory=socket.socket)
    connections: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(ACCEPT_BACKLOG)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return  # closed at the end of the module
            self.connections.append(f"{peer[0]}:{peer[1]}")
            conn.close()


@dataclass(frozen=True)
class Internet:
    namespace: Namespace
    port: int  # the public host's port: the canary's number, so that a rebound name lands on it

    def url(self, route: str, **query: str) -> str:
        return f"http://{self.namespace.ns_ip}:{self.port}/media/{route}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    seen = Canary()
    try:
        yield seen
    finally:
        seen.sock.close()


@pytest.fixture(scope="module")
def telegram(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(tmp_path_factory.mktemp("telegram"))
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def internet(tmp_path_factory: pytest.TempPathFactory, telegram: SandboxProcess, canary: Canary) -> Iterator[Internet]:
    """A sandbox serving its hostile routes, and the rebinding DNS server, in a namespace."""
    data, media = tmp_path_factory.mktemp("public"), os.environ["SANDBOX_MEDIA_DIR"]  # samples made by `telegram`
    with netns_namespace() as namespace:
        web = [sys.executable, "-m", "sandbox", "--host", namespace.ns_ip, "--port", str(canary.port),
               "--data-dir", str(data), "--media-dir", media]  # fmt: skip
        namespace.start(web, READY_PREFIX, cwd=ROOT)
        dns = [sys.executable, str(ROOT / "tests" / "support" / "dns_server.py"), "--bind", namespace.ns_ip,
               "--first", namespace.ns_ip, "--then", "127.0.0.1"]  # fmt: skip
        namespace.start(dns, DNS_READY)
        yield Internet(namespace, canary.port)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, telegram: SandboxProcess, internet: Internet) -> Iterator[BotProcess]:
    env = {
        "EGRESS_ALLOWED_PORTS": str(internet.port),  # so that the address rules, not the port rule, decide
        "EGRESS_RESOLVER": internet.namespace.ns_ip,
        "CIRCUIT_FAILURES": "1000",
    }
    process = BotProcess(tmp_path_factory.mktemp("production"), telegram_url=telegram.url, env=env)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def http(bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def blocked(bot: BotProcess, http: httpx.AsyncClient, canary: Canary, url: str, label: str = "best") -> None:
    assert await final_answer(bot, http, users, url, label) == BLOCKED
    assert canary.connections == [], f"this machine was reached: {canary.connections}"


async def test_the_public_host_itself_downloads(bot, http, internet, canary):
    """The control: the namespace's host is public to the guard, so a refusal below is the rule's."""
    chat = Chat(http, next(users), bot)
    await chat.say(internet.url("sample.mp4"))
    offer = await chat.wait_buttons(timeout=90)
    await chat.press(offer["message_id"], offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    [sent] = await chat.wait_files(1, timeout=90)
    assert sent["media"]["kind"] == "video" and canary.connections == []


async def test_a_redirect_to_a_private_address_is_blocked(bot, http, internet, canary):
    await blocked(bot, http, canary, internet.url("redirect", to=canary.url("/sample.mp4")))


async def test_an_hls_playlist_with_its_segment_and_key_on_private_addresses_is_blocked(bot, http, internet, canary):
    await blocked(bot, http, canary, internet.url("evil.m3u8", segment=canary.url("/seg.ts"), key=canary.url("/k")))


async def test_a_page_whose_thumbnail_is_private_is_blocked(bot, http, internet, canary):
    """The audio is sent with the page's picture as its cover: the picture is fetched, and refused."""
    url = internet.url("page.html", thumbnail=canary.url("/thumb.jpg"))
    await blocked(bot, http, canary, url, label="audio only")


async def test_a_dash_manifest_with_a_private_segment_is_blocked(bot, http, internet, canary):
    await blocked(bot, http, canary, internet.url("evil.mpd", segment=canary.url("/seg.m4s")))


async def test_a_name_rebound_to_loopback_is_blocked(bot, http, internet, canary):
    """The guard's resolver (EGRESS_RESOLVER) answers the public host at the first question and
    loopback at the next: the link passes its first check, and the guard's own lookup, whose
    answer is the address it connects to, is refused."""
    await blocked(bot, http, canary, f"http://{REBINDING_NAME}:{internet.port}/media/sample.mp4")
    assert any(f"{REBINDING_NAME} -> 127.0.0.1 is loopback" in line for line in bot.log_lines()), bot.log()
