"""What only the mtproto adapter promises, checked against kurigram's real client on the fake.

Sessions that are private and reused, a sender-only role, FloodWaits that reach the caller
instead of being slept in the library, progress per upload part, a cancel that stops the upload
itself, catch-up after a restart that resumes exactly after what was confirmed, the proxy and
the optional Premium session.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trio
from pyrogram.connection.proxy import HTTPProxy, SOCKS5Proxy

import core.telegram.mtproto as mtproto
from core import config
from core.config import Secret
from core.telegram.port import FloodWait, Media, MediaKind
from tests.contract.fake_mtproto_model import BOT_ID, PREMIUM_ID
from tests.contract.mtproto_env import API_ID, mtproto_env
from tests.contract.receiving import DEADLINE, POLL, receive, texts

USER = 6006
PART = 512 * 1024  # kurigram's upload part
MIB = 1024 * 1024


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


async def test_a_role_keeps_its_own_private_session_and_logs_in_once(tmp_path):
    async with mtproto_env(tmp_path) as env:  # the env has started the gateway once already
        async with env.make_port() as port:
            await port.get_me()
        async with env.make_port(role="uploader") as port:
            await port.get_me()
        async with env.make_port(role="uploader") as port:
            await port.get_me()
        folder = env.settings.session_dir
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        sessions = sorted(p.name for p in folder.iterdir())
        assert sessions == ["bot-gateway.session", "bot-uploader.session"]
        for name in sessions:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        assert env.world.logins == 2, "a role logged in again instead of reusing its session"


async def test_the_uploader_role_sends_but_receives_no_updates(tmp_path):
    async with mtproto_env(tmp_path) as env:
        await env.world.user_message(USER, "/start")
        async with env.make_port(role="uploader") as port:
            with trio.fail_after(DEADLINE):
                await port.send_text(USER, "from the uploader")
                with pytest.raises(RuntimeError):
                    await port.get_updates(POLL)
        async with env.make_port(role="uploader") as port:  # started again: its session reused
            await env.world.user_message(USER, "meanwhile")
            with trio.fail_after(DEADLINE):
                await port.send_text(USER, "again from the uploader")
        # Every request of its client opts out of updates (invokeWithoutUpdates).
        uploader = [(rpc, pushed) for client, rpc, pushed in env.world.requests if client == "bot-uploader"]
        assert uploader and not any(pushed for _, pushed in uploader), uploader
        sent = [r.text for r in await env.world.chat(USER) if r.from_bot]
        assert sent == ["from the uploader", "again from the uploader"]


async def test_a_long_flood_wait_reaches_the_caller_at_once(tmp_path):
    async with mtproto_env(tmp_path) as env:
        await env.world.user_message(USER, "/start")
        await env.world.force_flood(30)
        async with env.make_port() as port:
            with trio.fail_after(2.0):  # far less than the 30 s asked: not slept in the library
                with pytest.raises(FloodWait) as caught:
                    await port.send_text(USER, "too fast")
        assert caught.value.seconds == 30


async def test_a_flood_wait_under_the_sleep_threshold_is_slept_by_kurigram(tmp_path):
    async with mtproto_env(tmp_path) as env:
        await env.world.user_message(USER, "/start")
        await env.world.force_flood(1)
        async with env.make_port(mtproto_sleep_threshold=5) as port:
            with trio.fail_after(DEADLINE):
                started = trio.current_time()
                await port.send_text(USER, "after a short wait")
                waited = trio.current_time() - started
        assert waited >= 1.0, f"the send went through after {waited:.2f}s, before the flood wait ended"
        assert [r.text for r in await env.world.chat(USER) if r.from_bot] == ["after a short wait"]


async def test_progress_is_reported_for_every_part_and_the_parts_travel_the_media_session(tmp_path):
    async with mtproto_env(tmp_path) as env:
        await env.world.user_message(USER, "/start")
        size = 5 * PART + 1000
        path = random_file(tmp_path / "doc.bin", size)
        reports: list[tuple[int, int]] = []
        async with env.make_port() as port:
            with trio.fail_after(DEADLINE):
                sent = await port.send_media(
                    USER, Media(MediaKind.DOCUMENT, path=path), progress=lambda d, t: reports.append((d, t))
                )
        assert reports == [(min((i + 1) * PART, size), size) for i in range(6)]
        assert env.world.calls.count("upload.SaveFilePart") == 6
        assert sent.size == size and sent.file_id and sent.file_unique_id


async def test_cancelling_an_upload_stops_its_parts_and_sends_nothing(tmp_path):
    async with mtproto_env(tmp_path, part_delay=0.02) as env:
        await env.world.user_message(USER, "/start")
        size = 24 * MIB  # a "big" file for kurigram: SaveBigFilePart from 4 workers
        path = random_file(tmp_path / "big.bin", size)
        async with env.make_port() as port:
            with trio.fail_after(DEADLINE):
                with trio.CancelScope() as scope:

                    def progress(done: int, total: int) -> None:
                        if done >= 4 * PART:
                            scope.cancel()

                    await port.send_media(USER, Media(MediaKind.DOCUMENT, path=path), progress=progress)
                assert scope.cancelled_caught
                # send_media returned only after kurigram's save_file drained its workers.
                parts_at_cancel = env.world.parts_received
                await port.send_text(USER, "no file for you")
        assert parts_at_cancel == env.world.parts_received < size // PART
        assert "messages.SendMedia" not in env.world.calls
        assert env.world.uploads, "the cancelled file should be left unassembled on the server"
        assert [(r.text, r.media_kind) for r in await env.world.chat(USER) if r.from_bot] == [("no file for you", None)]


async def test_a_restart_resumes_right_after_what_was_confirmed(tmp_path, monkeypatch):
    monkeypatch.setattr(mtproto, "MAX_BATCH", 1)  # one update per batch, to confirm some only
    async with mtproto_env(tmp_path) as env:
        for i in range(3):
            await env.world.user_message(USER, f"while down {i}")
        async with env.make_port() as port:
            first = await receive(port, 1, confirm=True)
            await receive(port, 1, confirm=False)
        assert texts(first) == ["while down 0"]

        async with env.make_port() as port:
            # Fetched again by getDifference: nothing lost. A message of a difference carries no
            # position of its own, so an early one may come again: at least once, in order.
            again = texts(await receive(port, 2, confirm=True))
            while again[-1] != "while down 2":
                again += texts(await receive(port, 1, confirm=True))
            assert again[-2:] == ["while down 1", "while down 2"]
            assert set(again) <= {"while down 0", "while down 1", "while down 2"}
            # Live updates carry their own position: the restart resumes exactly after it.
            await env.world.user_message(USER, "live 0")
            await env.world.user_message(USER, "live 1")
            assert texts(await receive(port, 1, confirm=True)) == ["live 0"]
            assert texts(await receive(port, 1, confirm=False)) == ["live 1"]

        async with env.make_port() as port:
            assert texts(await receive(port, 1, confirm=True)) == ["live 1"]
            with trio.fail_after(DEADLINE):
                assert list((await port.get_updates(POLL)).updates) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "socks5://bot:p%40ss@10.1.2.3:1080",
            SOCKS5Proxy(hostname="10.1.2.3", port=1080, username="bot", password="p@ss"),
        ),
        ("http://proxy.example:3128", HTTPProxy(hostname="proxy.example", port=3128)),
    ],
)
async def test_the_proxy_setting_reaches_kurigram(tmp_path, url, expected):
    async with mtproto_env(tmp_path) as env:
        async with env.make_port(proxy_url=url) as port:
            await port.get_me()
            proxies = {s.client.proxy for s in env.world.sessions}
        assert proxies == {expected}


async def test_a_premium_session_is_started_only_when_set_and_raises_the_limit(tmp_path):
    async with mtproto_env(tmp_path) as env:
        async with env.make_port(role="uploader") as port:
            assert port.upload_limit == 2000 * MIB
            assert {env.world.auth_keys[s.auth_key] for s in env.world.sessions} == {BOT_ID}
        premium = Secret(env.world.premium_session_string(API_ID))
        async with env.make_port(role="uploader", premium_session=premium, upload_limit_mb=4000) as port:
            assert port.upload_limit == 4000 * MIB
            assert {env.world.auth_keys[s.auth_key] for s in env.world.sessions} == {BOT_ID, PREMIUM_ID}


async def test_a_file_over_the_bots_cap_goes_through_the_premium_session_and_is_sent_again_by_it(tmp_path, monkeypatch):
    """The short version of the next test: the bot's cap lowered to 1 MiB, a 2 MiB file."""
    monkeypatch.setattr(config, "MTPROTO_BOT_UPLOAD_MIB", 1)
    async with mtproto_env(tmp_path, part_delay=0.0) as env:
        await env.world.user_message(USER, "/start")
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(2 * MIB))
        premium = Secret(env.world.premium_session_string(API_ID))
        async with env.make_port(role="uploader", premium_session=premium, upload_limit_mb=4) as port:
            assert port.upload_limit == 4 * MIB
            with trio.fail_after(120):
                sent = await port.send_media(USER, Media(MediaKind.DOCUMENT, path=big))
                again = await port.send_media(USER, Media(MediaKind.DOCUMENT, file_id=sent.file_id))
        assert sent.file_id.startswith(mtproto.PREMIUM_PREFIX) and again.file_id == sent.file_id
        assert [r.media_size for r in env.world.premium_chat(USER)] == [2 * MIB, 2 * MIB]


@pytest.mark.slow
async def test_a_file_over_2000_mib_goes_through_the_premium_session(tmp_path):
    """Uploads 2001 MiB through kurigram: behind --run-slow."""
    async with mtproto_env(tmp_path, part_delay=0.0) as env:
        await env.world.user_message(USER, "/start")
        huge = tmp_path / "huge.bin"
        with huge.open("wb") as f:
            f.truncate(2001 * MIB)  # sparse
        premium = Secret(env.world.premium_session_string(API_ID))
        async with env.make_port(role="uploader", premium_session=premium, upload_limit_mb=4000) as port:
            with trio.fail_after(600):
                sent = await port.send_media(USER, Media(MediaKind.DOCUMENT, path=huge))
                again = await port.send_media(USER, Media(MediaKind.DOCUMENT, file_id=sent.file_id))
        assert sent.file_id.startswith(mtproto.PREMIUM_PREFIX) and again.file_id == sent.file_id
        assert [r.media_size for r in env.world.premium_chat(USER)] == [2001 * MIB, 2001 * MIB]
