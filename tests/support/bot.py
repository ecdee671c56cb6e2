"""The whole bot under test: `python run.py --sandbox` as a subprocess, and a user's-eye view of
its chats through the sandbox's user-simulation API.

Its ports are 0 all the way down: the sandbox's and the monitor's real ports come from the
supervisor's ready line (`ready: ... | health http://127.0.0.1:P/healthz | chat http://127.0.0.1:Q/`).

`BotProcess` is synchronous so that a module-scoped fixture can share one bot among tests (each
test runs its own trio loop); tests talk to it with `Chat` over httpx. Every test uses its own
user ids and its own media URLs (a query string), so tests sharing a bot never see each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.paths import RUN_PY
from tests.support.poll import until

START_DEADLINE_S = 120.0
REAL_MODE_TOKEN = "424243:real-mode-test-token"  # any token of the right shape: the sandbox plays Telegram
STOP_GRACE_S = 10.0
LOG_TAIL_LINES = 120


# Where the bots of one test run share yt-dlp's extractor table (set by tests/conftest.py; None:
# each bot builds its own). The gateway builds the table once per data folder, 2-3 s on the path to
# ready; a new bot is given the table the first one built, as a restarted bot finds its own.
shared_run_files: Path | None = None
TABLE_GLOB = "extractor-index-*.json"  # core.extractor_index's cached tables, named by fingerprint

READY = re.compile(r"^ready: .*\| health http://127\.0\.0\.1:(\d+)/healthz(?: \| chat (http://\S+?)/?)?$")


def share_tables(*, into: Path | None = None, from_: Path | None = None) -> None:
    """Copy the cached extractor tables into a new bot's run folder (one it has not got), or
    from a ready bot's into the shared folder. A table of another yt-dlp is not read."""
    if shared_run_files is None:
        return
    source, target = (shared_run_files, into) if into is not None else (from_, shared_run_files)
    assert source is not None and target is not None
    for table in source.glob(TABLE_GLOB):
        if not (target / table.name).exists():
            target.mkdir(parents=True, exist_ok=True)
            partial = target / f"{table.name}.part"
            shutil.copyfile(table, partial)
            partial.replace(target / table.name)


class BotProcess:
    """`run.py --sandbox` with its own data folder and ports; `stop()` leaves nothing running."""

    def __init__(
        self,
        folder: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        workers: int = 1,
        telegram_url: str | None = None,
        python: str = sys.executable,
        script: Path = RUN_PY,
    ) -> None:
        """`telegram_url`: run for real (no --sandbox) against that Bot API server (a sandbox the
        test started), so that downloads take the production egress rules. `script`: what runs
        in place of run.py (a test's own launcher of it)."""
        self.folder = folder
        self.data_dir = folder / "data"
        self.monitor_port = 0  # both known from the ready line
        self.url = telegram_url or ""
        self.log_path = folder / "bot.log"
        mode = ["--sandbox", "--sandbox-port", "0"] if telegram_url is None else []
        argv = [
            python, str(script), *mode, "--workers", str(workers),
            "--data-dir", str(self.data_dir), "--monitor-port", "0", *args,
        ]  # fmt: skip
        real = {"TELEGRAM_BACKEND": "botapi", "BOTAPI_URL": telegram_url or "", "BOT_TOKEN": REAL_MODE_TOKEN}
        full_env = {
            **os.environ,
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            **(real if telegram_url else {}),
            **(env or {}),
        }
        self._log = self.log_path.open("wb")
        share_tables(into=self.data_dir / "run")
        self.proc = subprocess.Popen(
            argv, cwd=folder, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        share_tables(from_=self.data_dir / "run")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the bot exited ({self.proc.returncode}) before ready:\n{self.log()}")
            if ready := next((m for line in self.log_lines() if (m := READY.match(line))), None):
                self.monitor_port = int(ready.group(1))
                self.url = self.url or ready.group(2)
                assert self.url, f"no chat URL in the ready line: {ready.group(0)}"
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the bot was not ready within {START_DEADLINE_S:g} s:\n{self.log()}")

    def log_lines(self) -> list[str]:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace").splitlines()

    def log(self, tail: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_lines()[-tail:])

    def processes(self) -> dict[str, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return {p["name"]: p for p in json.load(response)["processes"]}
        except urllib.error.HTTPError as exc:  # 503 while a process is down: the report says which
            return {p["name"]: p for p in json.load(exc)["processes"]}

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the bot's database (read-only; WAL lets a reader beside the running bot)."""
        with closing(sqlite3.connect(f"file:{self.data_dir / 'bot.sqlite3'}?mode=ro", uri=True)) as db:
            return db.execute(sql, params).fetchall()

    def rows(self, sql: str, *params: object) -> list[dict[str, Any]]:
        """`query` with each row as a dict of its columns."""
        with closing(sqlite3.connect(f"file:{self.data_dir / 'bot.sqlite3'}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, params).fetchall()]

    def spool_files(self) -> list[Path]:
        spool = self.data_dir / "spool"
        return sorted(p for p in spool.rglob("*") if p.is_file()) if spool.exists() else []

    def kill(self, name: str) -> int:
        """kill -9 one child by its process name; returns its pid."""
        pid = int(self.processes()[name]["pid"])
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            children = _descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(STOP_GRACE_S)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
            for pid in [self.proc.pid, *children]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()


def _descendants(pid: int) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class Chat:
    """One simulated user's private chat with the bot."""

    def __init__(self, http: httpx.AsyncClient, user_id: int, bot: BotProcess | None = None, lang: str = "en") -> None:
        self.http = http
        self.user_id = user_id
        self.bot = bot
        self.lang = lang

    async def say(self, text: str | None, **extra: Any) -> int:
        """Send a message (text None: a photo with `caption=...`)."""
        body = {"first_name": f"User{self.user_id}", "language_code": self.lang, **extra}
        if text is not None:
            body["text"] = text
        response = await self.http.post(f"/sandbox/users/{self.user_id}/messages", json=body)
        assert response.status_code == 200, response.text
        return int(response.json()["message_id"])

    async def press(self, message_id: int, data: str) -> None:
        response = await self.http.post(
            f"/sandbox/users/{self.user_id}/callbacks", json={"message_id": message_id, "data": data}
        )
        assert response.status_code == 200, response.text

    async def messages(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"/sandbox/users/{self.user_id}/chat")
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    async def bot_messages(self, *, with_deleted: bool = False) -> list[dict[str, Any]]:
        return [m for m in await self.messages() if m["from"] == "bot" and (with_deleted or not m["deleted"])]

    async def files(self) -> list[dict[str, Any]]:
        return [m for m in await self.bot_messages() if m.get("media")]

    def _describe(self) -> str:
        return self.bot.log() if self.bot else ""

    async def wait_files(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            found = await self.files()
            return found if len(found) >= count else None

        return await until(f"{count} file(s) in chat {self.user_id}", enough, timeout, describe=self._describe)

    async def wait_buttons(self, timeout: float = 60.0) -> dict[str, Any]:
        """The newest bot message that offers buttons other than cancel."""

        async def offered() -> dict[str, Any] | None:
            for m in reversed(await self.bot_messages()):
                rows = (m.get("reply_markup") or {}).get("inline_keyboard") or []
                if any(not b.get("callback_data", "").startswith("x|") for row in rows for b in row):
                    return m
            return None

        return await until(f"a choice in chat {self.user_id}", offered, timeout, describe=self._describe)

    async def wait_text(self, needle: str, timeout: float = 60.0) -> dict[str, Any]:
        async def seen() -> dict[str, Any] | None:
            for m in reversed(await self.bot_messages()):
                if needle in (m.get("text") or m.get("caption") or ""):
                    return m
            return None

        return await until(f"{needle!r} in chat {self.user_id}", seen, timeout, describe=self._describe)


def buttons(message: dict[str, Any]) -> list[dict[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b for row in rows for b in row]


def button(message: dict[str, Any], *words: str) -> dict[str, str]:
    """The first button whose text contains one of `words`."""
    for b in buttons(message):
        if any(w.lower() in b["text"].lower() for w in words):
            return b
    raise AssertionError(f"no button with {words} in {[b['text'] for b in buttons(message)]}")
