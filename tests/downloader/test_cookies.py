"""Cookie files: checks logged once, rotation, set aside with an alert, and a real yt-dlp run that
writes cookies back into the job's copy while the original stays byte-identical."""

from __future__ import annotations

import json
import logging
import os
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yt_dlp

from core.alerts import alerter
from core.config import load_settings
from core.db import open_db
from core.texts import text
from downloader.cookies import COOKIE_COPY_NAME, CookieStore, platform_name
from downloader.errors import ErrorClass, Failure
from tests.downloader.test_errors import SOCKET_TIMEOUT, LocalServer

SECRET = "s3cr3t-session-value"


def netscape(*cookies: tuple[str, str], domain: str = ".youtube.com") -> str:
    expiry = int(time.time()) + 86400
    lines = ["# Netscape HTTP Cookie File", "# exported for a test", ""]
    subdomains = "TRUE" if domain.startswith(".") else "FALSE"
    lines += [f"{domain}\t{subdomains}\t/\tFALSE\t{expiry}\t{name}\t{value}" for name, value in cookies]
    return "\n".join(lines) + "\n"


def write(path: Path, content: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 1.0  # every use a second later: the order of uses is unambiguous
        return self.now


@pytest.fixture
def env(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "ADMIN_IDS": "10"}, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    store = CookieStore(settings.cookies_dir, db, alert=alerter(db, settings), clock=Clock())
    try:
        yield store, settings.cookies_dir, db
    finally:
        db.close()


def test_platform_names_are_the_extractor_family():
    assert platform_name("Youtube") == "youtube"
    assert platform_name("YoutubeTab") == "youtube"
    assert platform_name("YoutubeShortsAudioPivot") == "youtube"
    assert platform_name("Instagram") == "instagram"
    assert platform_name("InstagramStory") == "instagram"
    assert platform_name("TikTokVM") == "tiktok"
    assert platform_name("TwitterSpaces") == "twitter"
    assert platform_name("Generic") == "generic"
    assert platform_name("NoSuchSite../x") == "nosuchsitex"
    assert CookieStore.platform_name("Youtube") == "youtube"


def test_a_file_others_can_read_is_refused_with_one_log_line(env, caplog):
    store, cookies_dir, _ = env
    path = write(cookies_dir / "youtube.txt", netscape(("SID", SECRET)), mode=0o644)
    with caplog.at_level(logging.INFO, logger="downloader.cookies"):
        assert [store.pick("youtube") for _ in range(5)] == [None] * 5
        path.chmod(0o600)
        assert store.pick("youtube") == path
        assert store.pick("youtube") == path
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "cookie file youtube.txt refused: mode 0644 lets others read it; run chmod 600 on it",
        "cookie file youtube.txt is usable now",
    ]
    assert SECRET not in caplog.text


def test_a_file_not_in_netscape_format_is_refused_without_logging_its_contents(env, caplog):
    store, cookies_dir, _ = env
    write(cookies_dir / "instagram.txt", json.dumps([{"name": "sessionid", "value": SECRET}]))
    write(cookies_dir / "tiktok.txt", f"sessionid={SECRET}; path=/\n")
    # A header and a broken line: yt-dlp would skip the line with a warning that prints it, value and all.
    write(cookies_dir / "twitter.txt", netscape(("auth_token", "ok")) + f".x.com\tTRUE\t/\tauth\t{SECRET}\n")
    with caplog.at_level(logging.WARNING, logger="downloader.cookies"):
        for _ in range(3):
            assert store.pick("instagram") is None
            assert store.pick("tiktok") is None
            assert store.pick("twitter") is None
    assert len(caplog.records) == 3 and all("not in Netscape cookie format" in r.getMessage() for r in caplog.records)
    assert "cookie 2 has 5 fields" in caplog.records[2].getMessage()
    assert SECRET not in caplog.text


def test_headerless_tab_separated_lines_are_netscape_too(env, tmp_path):
    store, cookies_dir, _ = env
    body = netscape(("SID", "x")).split("\n", 3)[3]  # the cookie lines only, no header
    path = write(cookies_dir / "youtube" / "bare.txt", "#HttpOnly_" + body)
    assert store.pick("youtube") == path
    copy = store.copy_for_job(path, tmp_path / "job")
    assert copy.read_text().startswith("# Netscape HTTP Cookie File\n#HttpOnly_.youtube.com\t")  # yt-dlp needs it


def test_three_files_rotate_least_recently_used_first(env):
    store, cookies_dir, _ = env
    files = [write(cookies_dir / "youtube" / f"{name}.txt", netscape(("SID", name))) for name in "abc"]
    write(cookies_dir / "youtube" / "notes.md", "not a cookie file")
    picked = []
    for _ in range(7):
        path = store.pick("youtube")
        assert path is not None
        picked.append(path.name)
        store.mark_used(path)
    assert picked == ["a.txt", "b.txt", "c.txt", "a.txt", "b.txt", "c.txt", "a.txt"]
    assert [f.read_text() for f in files] == [netscape(("SID", n)) for n in "abc"]  # picking never writes


def test_the_single_file_takes_part_in_the_rotation(env):
    store, cookies_dir, _ = env
    single = write(cookies_dir / "youtube.txt", netscape(("SID", "one")))
    extra = write(cookies_dir / "youtube" / "two.txt", netscape(("SID", "two")))
    first = store.pick("youtube")
    assert first is not None
    store.mark_used(first)
    second = store.pick("youtube")
    assert {first, second} == {single, extra}


def test_a_set_aside_file_is_skipped_the_admins_are_told_and_a_replacement_is_used(env):
    store, cookies_dir, db = env
    a = write(cookies_dir / "youtube" / "a.txt", netscape(("SID", "a")))
    b = write(cookies_dir / "youtube" / "b.txt", netscape(("SID", "b")))
    bot_check = Failure(ErrorClass.BOT_CHECK, "Sign in to confirm you’re not a bot")
    assert store.after_failure(a, bot_check)
    assert not store.after_failure(a, bot_check)  # already set aside: no second alert
    assert not store.after_failure(b, Failure(ErrorClass.NOT_FOUND, "HTTP Error 404"))
    assert [store.pick("youtube") for _ in range(3)] == [b, b, b]
    rows = db.execute("SELECT chat_id, payload FROM outbox").fetchall()
    assert len(rows) == 1 and rows[0][0] == 10
    shown = json.loads(rows[0][1])["text"]
    assert "youtube/a.txt" in shown and "bot_check" in shown and "SID" not in shown  # never the contents
    assert db.execute("SELECT reason FROM cookie_files WHERE path = 'youtube/a.txt'").fetchone() == ("bot_check",)

    store.set_aside(b, "login_required")
    assert store.pick("youtube") is None
    assert len(db.execute("SELECT id FROM outbox").fetchall()) == 2  # one alert per file

    later = store.clock.now + 100
    write(a, netscape(("SID", "fresh")))
    os.utime(a, (later, later))  # the admin dropped in a fresh export
    assert store.pick("youtube") == a
    assert db.execute("SELECT set_aside_at FROM cookie_files WHERE path = 'youtube/a.txt'").fetchone() == (None,)
    told = [json.loads(p)["text"] for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id").fetchall()]
    resolved = text("fa", "alert_cookies_ok", platform="youtube", file="youtube/a.txt")  # the default language
    assert told[2:] == [resolved]  # the all-clear, for a.txt only


class _CookieHandler(BaseHTTPRequestHandler):
    """Serves a small video and sets a cookie; remembers the Cookie headers it was sent."""

    server: LocalServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.server.requests.append(self.headers.get("Cookie") or "")
        body = b"\0" * 4096
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "fresh=from-the-server; Max-Age=3600; Path=/")
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)


def test_a_real_ytdlp_run_writes_into_the_jobs_copy_and_leaves_the_original(env, tmp_path):
    store, cookies_dir, _ = env
    original = write(cookies_dir / "generic.txt", netscape(("session", SECRET), domain="127.0.0.1"))
    before = original.read_bytes()
    before_mtime = original.stat().st_mtime_ns
    picked = store.pick("generic")
    assert picked == original
    job_dir = tmp_path / "spool" / "job-17"
    copy = store.copy_for_job(picked, job_dir)
    assert copy == job_dir / COOKIE_COPY_NAME and (copy.stat().st_mode & 0o777) == 0o600

    server = LocalServer(_CookieHandler)
    try:
        options = {"quiet": True, "no_warnings": True, "cookiefile": str(copy), "socket_timeout": SOCKET_TIMEOUT}
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(server.url("/clip.mp4"), download=False)
        assert info is not None and info["extractor_key"] == "Generic"
    finally:
        server.close()

    assert any(f"session={SECRET}" in cookie for cookie in server.requests), server.requests  # the copy was used
    written = copy.read_text()
    assert "fresh\tfrom-the-server" in written and SECRET in written  # yt-dlp wrote back into the copy
    assert original.read_bytes() == before and original.stat().st_mtime_ns == before_mtime
    assert (copy.stat().st_mode & 0o777) == 0o600
