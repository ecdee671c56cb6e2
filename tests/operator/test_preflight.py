"""`python run.py --check` as an operator runs it: one line per check, and each check's ok and
error case, against a sandbox (the module's, with its users and channels) in sandbox mode."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from core.db import open_db
from tests.support.paths import ROOT
from tests.support.ports import refusing_port
from tests.support.sandbox import SandboxProcess

CHECK_TIMEOUT_S = 120.0
COOKIE = "#HttpOnly_.example.com\tTRUE\t/\tTRUE\t{expires}\tsid\tsecret-cookie-value\n"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    media = os.environ.get("SANDBOX_MEDIA_DIR")
    process = SandboxProcess(tmp_path_factory.mktemp("sandbox"), Path(media) if media else None)
    try:
        yield process
    finally:
        process.stop()


def run_check(folder: Path, sandbox: SandboxProcess | None, *args: str, **env: str) -> tuple[int, dict[str, str]]:
    """`run.py --check` in `folder`; (exit status, {check name: "level detail"})."""
    port = ["--sandbox", "--sandbox-port", sandbox.url.rsplit(":", 1)[1]] if sandbox else []
    argv = [sys.executable, str(ROOT / "run.py"), "--check", "--data-dir", str(folder / "data"), *port, *args]
    if "--monitor-port" not in args:
        argv += ["--monitor-port", "0"]  # picked at start: the check says so
    done = subprocess.run(
        argv, cwd=folder, env={**os.environ, **env}, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
    )
    lines: dict[str, str] = {}
    for line in done.stdout.splitlines():
        level, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        assert level in ("ok", "warning", "error"), f"not a check line: {line!r}\n{done.stdout}{done.stderr}"
        lines[name] = f"{level} {detail}"
    return done.returncode, lines


def test_a_sound_setup_passes_with_one_line_per_check(tmp_path, sandbox):
    status, lines = run_check(tmp_path, sandbox, YTDLP_MAX_AGE_DAYS="3650")
    assert status == 0, lines
    expected = [
        "settings", "data folder", "database", "ffmpeg", "ffprobe", "yt-dlp", "javascript runtime", "curl_cffi",
        "cookies", "po token provider", "sandbox", "telegram", "admins", "sponsor locks", "monitor port",
    ]  # fmt: skip
    assert list(lines) == expected
    assert lines["sandbox"].startswith("ok using the one running at")
    assert lines["telegram"].startswith("ok token valid: @")
    assert lines["yt-dlp"].startswith("ok ") and "days old" in lines["yt-dlp"]
    assert lines["javascript runtime"].startswith("ok deno ")
    assert lines["ffmpeg"].startswith("ok ") and lines["ffprobe"].startswith("ok ")


def test_a_bad_setting_is_an_error_that_names_it(tmp_path, sandbox):
    status, lines = run_check(tmp_path, sandbox, MAX_LINKS_PER_MESSAGE="lots")
    assert status == 1
    assert lines["settings"].startswith("error MAX_LINKS_PER_MESSAGE: must be a whole number")


def test_missing_credentials_are_an_error_and_telegram_is_not_asked(tmp_path):
    status, lines = run_check(tmp_path, None, TELEGRAM_BACKEND="botapi", BOT_TOKEN="")
    assert status == 1
    assert lines["settings"].startswith("error BOT_TOKEN: is not set")
    assert "telegram" not in lines and "data folder" in lines


def test_missing_ffmpeg_is_an_error(tmp_path, sandbox):
    empty = tmp_path / "bin"
    empty.mkdir()
    status, lines = run_check(tmp_path, sandbox, PATH=str(empty))
    assert status == 1
    assert lines["ffmpeg"].startswith("error not found on PATH")
    assert lines["ffprobe"].startswith("error not found on PATH")


def test_a_data_folder_that_cannot_be_written_is_an_error(tmp_path, sandbox):
    (tmp_path / "data").write_text("a file where the folder should be")  # root may write anywhere else
    status, lines = run_check(tmp_path, sandbox)
    assert status == 1
    assert lines["data folder"].startswith("error ") and "not writable" in lines["data folder"]
    assert "database" not in lines  # nothing to open it in


def test_yt_dlp_older_than_the_setting_is_a_warning_not_an_error(tmp_path, sandbox):
    status, lines = run_check(tmp_path, sandbox, YTDLP_MAX_AGE_DAYS="1")
    assert lines["yt-dlp"].startswith("warning ") and "update it with /ytdlp update" in lines["yt-dlp"]
    assert status == 0, lines


def test_cookie_files_mode_and_expiry(tmp_path, sandbox):
    cookies = tmp_path / "data" / "cookies"
    (cookies / "instagram").mkdir(parents=True)
    soon = int(time.time()) + 3 * 86400
    later = int(time.time()) + 90 * 86400
    good = cookies / "youtube.txt"
    good.write_text("# Netscape HTTP Cookie File\n" + COOKIE.format(expires=later))
    good.chmod(0o600)
    open_to_all = cookies / "instagram" / "a.txt"
    open_to_all.write_text("# Netscape HTTP Cookie File\n" + COOKIE.format(expires=later))
    open_to_all.chmod(0o644)
    expiring = cookies / "instagram" / "b.txt"
    expiring.write_text("# Netscape HTTP Cookie File\n" + COOKIE.format(expires=soon))
    expiring.chmod(0o600)
    status, lines = run_check(tmp_path, sandbox)
    assert status == 1
    assert lines["cookies youtube.txt"].startswith("ok mode 0600; the first cookie expires on")
    assert lines["cookies instagram/a.txt"] == "error refused: mode 0644 lets others read it; run chmod 600 on it"
    assert lines["cookies instagram/b.txt"].startswith("warning a cookie expires on")


def test_admins_who_never_started_the_bot_cannot_be_reached(tmp_path, sandbox):
    httpx.post(f"{sandbox.url}/sandbox/users/7101/messages", json={"text": "/start"}, timeout=10).raise_for_status()
    status, lines = run_check(tmp_path, sandbox, ADMIN_IDS="7101,7102")
    assert status == 1
    assert lines["admin 7101"] == "ok can be reached"
    assert lines["admin 7102"].startswith("error cannot be reached: they must open the bot")


def add_lock(data_dir: Path, username: str) -> None:
    db = open_db(data_dir / "bot.sqlite3", busy_timeout=5)
    with db.conn:
        db.execute("INSERT INTO sponsors (username, created_at) VALUES (?, ?)", [username, time.time()])
    db.close()


def test_a_sponsor_lock_where_the_bot_is_no_admin_is_an_error(tmp_path, sandbox):
    for username, admin in (("opnews", False), ("opclub", True)):
        body = {"username": username, "type": "channel", "title": username, "bot_is_admin": admin}
        httpx.post(f"{sandbox.url}/sandbox/chats", json=body, timeout=10).raise_for_status()
    (tmp_path / "data").mkdir()
    for username in ("opnews", "opclub", "opgone"):
        add_lock(tmp_path / "data", username)
    status, lines = run_check(tmp_path, sandbox)
    assert status == 1
    assert lines["sponsor lock @opclub"] == "ok visible, the bot is administrator"
    assert lines["sponsor lock @opnews"].startswith("error the bot is left there, not an administrator")
    assert lines["sponsor lock @opgone"].startswith("error the bot cannot see this chat")


def test_a_taken_monitor_port_is_an_error(tmp_path, sandbox):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, lines = run_check(tmp_path, sandbox, "--monitor-port", str(port))
    assert status == 1
    assert lines["monitor port"].startswith(f"error {port} is taken")
    status, lines = run_check(tmp_path, sandbox, "--monitor-port", str(port))
    assert lines["monitor port"] == f"ok {port} is free"


def test_telegram_out_of_reach_is_an_error(tmp_path):
    with refusing_port() as port:
        env = {"TELEGRAM_BACKEND": "botapi", "BOTAPI_URL": f"http://127.0.0.1:{port}", "BOT_TOKEN": "4242:abcdefgh"}
        status, lines = run_check(tmp_path, None, **env)
    assert status == 1
    assert lines["telegram"].startswith("error ")
    assert "abcdefgh" not in json.dumps(lines)  # the token never shows


async def serve_ping(nursery: trio.Nursery) -> int:
    """A stand-in for bgutil's PO-token server: GET /ping answers its JSON."""

    async def handle(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        body = json.dumps({"version": "1.2.2", "server_uptime": 5}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        await stream.send_all(head.encode() + body)
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, handle, 0)
    return int(listeners[0].socket.getsockname()[1])


async def test_the_po_token_provider_answers_or_is_an_error(tmp_path, sandbox, nursery):
    port = await serve_ping(nursery)
    status, lines = await trio.to_thread.run_sync(
        lambda: run_check(tmp_path, sandbox, YTDLP_POT_PROVIDER_URL=f"http://127.0.0.1:{port}")
    )
    assert lines["po token provider"] == f"ok http://127.0.0.1:{port} answers, version 1.2.2"
    with refusing_port() as closed:
        status, lines = await trio.to_thread.run_sync(
            lambda: run_check(tmp_path, sandbox, YTDLP_POT_PROVIDER_URL=f"http://127.0.0.1:{closed}")
        )
    assert status == 1
    assert lines["po token provider"].startswith(f"error http://127.0.0.1:{closed} does not answer /ping")
