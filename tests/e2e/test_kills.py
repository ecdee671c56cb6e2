"""kill -9 at each step of a job's life, of each process, and of the whole bot: every job ends with
exactly one answer to the user (the one status, its one file; no failure, no second copy).

The supervisor restarts a killed child; a downloader's job goes to another worker after
HEARTBEAT_TIMEOUT; a gateway's jobs go on (the downloaders send their reports again to the new
one); the uploader's rows wait for it. The whole bot killed at once (Telegram, here the sandbox,
lives on) starts again on the same data folder and finishes what was in flight. "Exactly one" is
counted once the user's jobs are over and nothing is left to send them (`jobkit.settled`).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.e2e.jobkit import exactly_one_file, ffmpeg_running, job_where, jobs_of, rows, settled, streaming
from tests.e2e.test_journey import set_default
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.poll import until
from tests.support.sandbox import SandboxProcess

users = itertools.count(62_000)
QUICK = {"HEARTBEAT_TIMEOUT": "3", "HUNG_KILL_AFTER": "8", "ADMIN_IDS": "4242"}
SAMPLE_BYTES = 65_897  # sample.mp4, as the sandbox makes it


@pytest.fixture(scope="module")
def kill_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("kills"), env=QUICK, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(kill_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kill_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


async def restarted(bot: BotProcess, name: str, old_pid: int) -> None:
    async def back() -> bool:
        p = bot.processes().get(name)
        return bool(p and p["pid"] != old_pid and p["state"] == "ready")

    await until(f"{name} restarted", back, 60, describe=bot.log)


async def choose_video(chat: Chat, bot: BotProcess) -> None:
    """The one choice offered: exactly one message with format buttons; press its video one."""
    offer = await chat.wait_buttons()
    offers = [m for m in await chat.bot_messages() if any(not b["callback_data"].startswith("x|") for b in buttons(m))]
    assert len(offers) == 1, f"{len(offers)} offers: {offers}"
    await chat.press(offer["message_id"], button(offer, "p", "video", "Video")["callback_data"])


# ---- a downloader killed ---------------------------------------------------------------------------


async def test_a_downloader_killed_during_a_probe(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await chat.say(f"{bot.url}/media/sample.mp4?delay_ms=3000&t=k-dl-probe")  # a slow site: a long probe
    job = await job_where(bot, chat.user_id, "the probe under way", state="probing", worker=None)
    bot.kill(job["worker"])
    await choose_video(chat, bot)  # the probe was done again, by a live worker
    await exactly_one_file(chat, bot)
    assert jobs_of(bot, chat.user_id)[0]["lease"] >= 3  # probed twice, then downloaded


async def test_a_downloader_killed_during_a_transcode(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/sample.webm?t=k-dl-transcode")
    job = await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
    await ffmpeg_running(bot, job["worker"])
    bot.kill(job["worker"])
    sent = await exactly_one_file(chat, bot)
    assert sent["media"]["mime_type"] == "video/mp4"  # transcoded by the worker that took it over


async def test_a_downloader_killed_mid_playlist(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/feed.xml?items=3&rate=30000&tag=k-dl-list")
    await chat.wait_files(1, timeout=90)

    async def entry_running() -> dict | None:
        live = [j for j in jobs_of(bot, chat.user_id) if j["parent_id"] and j["state"] == "downloading"]
        return live[0] if live and live[0]["worker"] else None

    running = await until("an entry downloading", entry_running, 90, describe=bot.log)
    bot.kill(running["worker"])
    jobs = await settled(bot, chat.user_id)
    assert sorted(j["state"] for j in jobs) == ["done"] * 4  # the playlist and its three entries
    files = await chat.files()
    assert [f.get("caption", "").split("\n")[0] for f in files] == ["Item 1", "Item 2", "Item 3"]  # once, in order
    await chat.wait_text("3/3 sent")


# ---- the gateway killed ------------------------------------------------------------------------------


async def test_the_gateway_killed_during_a_probe(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await chat.say(f"{bot.url}/media/sample.mp4?delay_ms=3000&t=k-gw-probe")
    await job_where(bot, chat.user_id, "the probe under way", state="probing", worker=None)
    old = bot.kill("gateway")
    await restarted(bot, "gateway", old)
    await choose_video(chat, bot)  # the downloader's report reached the new gateway
    await exactly_one_file(chat, bot)


async def test_the_gateway_killed_during_a_download(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/slow?size=600000&rate=150000&t=k-gw-download")
    await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
    await streaming(http, "k-gw-download", least_bytes=100_000)
    bot.kill("gateway")
    await exactly_one_file(chat, bot, size=600_000)


async def test_the_gateway_killed_while_the_file_is_uploading(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await set_default(chat, "best")
    await http.post("/sandbox/config", json={"faults": {"latency_ms": 2000}})  # every Bot API call 2 s late
    try:
        await chat.say(f"{bot.url}/media/blob?size=200000&t=k-gw-upload")

        async def sending() -> bool:
            return bool(
                rows(
                    bot,
                    "SELECT o.id FROM outbox o JOIN jobs j ON j.id = o.job_id WHERE j.user_id = ?"
                    " AND o.kind = 'media' AND o.state = 'sending'",
                    chat.user_id,
                )
            )

        await until("the file on its way", sending, 90, describe=bot.log)
        bot.kill("gateway")  # the uploader's word that the file went may reach no one
    finally:
        await http.post("/sandbox/config", json={"faults": {"latency_ms": 0}})
    await exactly_one_file(chat, bot, size=200_000)


# ---- the uploader killed -----------------------------------------------------------------------------


async def test_the_uploader_killed_while_the_file_downloads(kill_bot, http):
    bot, chat = kill_bot, Chat(http, next(users), kill_bot)
    await set_default(chat, "best")
    await chat.say(f"{bot.url}/media/slow?size=600000&rate=150000&t=k-up-download")
    await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
    old = bot.kill("uploader")
    await restarted(bot, "uploader", old)
    await exactly_one_file(chat, bot, size=600_000)
    assert not [p for p in bot.spool_files() if "k-up" in str(p)]


# ---- the whole bot -----------------------------------------------------------------------------------

CHILDREN: tuple[tuple[str, list[str]], ...] = (
    ("monitor", []),
    ("uploader", []),
    ("gateway", []),
    ("downloader", ["--name", "downloader-1"]),
)


class Procfile:
    """The bot's processes started one by one (as `procfile` lists them), against a sandbox the
    test runs apart: so that the whole bot can be killed at once while "Telegram" lives on."""

    def __init__(self, folder: Path, sandbox_url: str) -> None:
        self.data_dir = folder / "data"
        self.url = sandbox_url
        port = sandbox_url.rsplit(":", 1)[1]
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "SANDBOX": "true",
            "SANDBOX_PORT": port,
            "TELEGRAM_BACKEND": "botapi",
            "BOTAPI_URL": sandbox_url,
            "BOT_TOKEN": "1000001:sandbox-token-not-secret",
            "MONITOR_PORT": "0",  # any free port: this test asks the monitor nothing
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            **QUICK,
        }
        self.log_path = folder / "bot.log"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        root = Path(__file__).resolve().parents[2]
        for module, args in CHILDREN:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", module, *args], cwd=root, env=self.env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        log.close()

    async def ready(self) -> None:
        names = ("monitor", "uploader", "gateway", "downloader-1")

        async def all_ready() -> bool:
            said = self.log()
            return all(said.count(f"{name} ready") >= self.starts for name in names)

        await until("every process ready", all_ready, 120, describe=self.log)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(30)
        self.procs.clear()

    def log(self, tail: int = 120) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])


@pytest.fixture
def whole_bot(tmp_path: Path) -> Iterator[Procfile]:
    sandbox = SandboxProcess(tmp_path / "sandbox-data")
    bot = Procfile(tmp_path, sandbox.url)
    try:
        yield bot
    finally:
        bot.kill_all()
        sandbox.stop()


async def test_the_whole_bot_killed_mid_download_finishes_after_a_restart_on_the_same_data(whole_bot):
    bot = whole_bot
    bot.start()
    await bot.ready()
    async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
        chat, other = Chat(http, next(users)), Chat(http, next(users))
        await set_default(chat, "best")
        await chat.say(f"{bot.url}/media/slow?size=900000&rate=150000&t=k-all-download")
        await other.say(f"{bot.url}/media/sample.mp4?delay_ms=2000&t=k-all-probe")
        await job_where(bot, chat.user_id, "the download running", state="downloading", worker=None)
        await job_where(bot, other.user_id, "the probe under way", state="probing", worker=None)
        await streaming(http, "k-all-download", least_bytes=150_000)
        bot.kill_all()
        bot.start()  # the same data folder; Telegram remembers the chats
        await bot.ready()
        await exactly_one_file(chat, bot, size=900_000)
        offer = await other.wait_buttons()
        await other.press(offer["message_id"], button(offer, "p", "video", "Video")["callback_data"])
        await exactly_one_file(other, bot, size=SAMPLE_BYTES)


# ---- maintenance: the admins' own links go, everyone else's wait -----------------------------------


async def test_during_maintenance_an_admins_link_is_downloaded_and_a_users_waits(kill_bot, http):
    bot, admin, user = kill_bot, Chat(http, 4242, kill_bot), Chat(http, next(users), kill_bot)
    await set_default(user, "best")
    await set_default(admin, "best")
    await admin.say("/maintenance on")
    await admin.wait_text("Maintenance is on")
    try:
        await user.say(f"{bot.url}/media/sample.mp4?t=k-maint-user")  # refused with the notice...
        await user.wait_text("maintenance")
        await admin.say(f"{bot.url}/media/blob?size=50000&t=k-maint-admin")  # ...an admin's goes
        [got] = await admin.wait_files(1, timeout=90)
        assert got["media"]["size"] == 50_000
        assert jobs_of(bot, user.user_id) == []  # the user's link made no job
    finally:
        await admin.say("/maintenance off")
        await admin.wait_text("Maintenance is off")
