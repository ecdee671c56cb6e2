"""Helpers for the web chat browser test: a real sandbox process, a bot played through the Bot API,
and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_PREFIX = "SANDBOX_READY "
START_DEADLINE_S = 30.0
STOP_GRACE_S = 5.0
BOT_TOKEN = "123456:sandbox-webchat-test"
LONG_POLL_S = 1


def require_chromium() -> str:
    """The browser test runs wherever chromium exists; CI must have it (the Makefile installs it)."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the web chat test"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class Sandbox:
    """A `python -m sandbox` child process on port 0; its stdout is drained by a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.stderr_path = data_dir / "sandbox.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", "0", "--data-dir", str(data_dir)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._wait_ready()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_DEADLINE_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"sandbox exited ({self.proc.wait()}) before ready: {self.lines} {self.stderr()}")
            self.lines.append(line)
            if line.startswith(READY_PREFIX):
                return line.removeprefix(READY_PREFIX).strip().rstrip("/")
        raise AssertionError(f"sandbox not ready within {START_DEADLINE_S}s; stdout {self.lines}; {self.stderr()}")

    def stderr(self) -> str:
        self._stderr.flush()
        return "stderr: " + self.stderr_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


@contextmanager
def running_sandbox(data_dir: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(data_dir)
    try:
        yield sandbox
    finally:
        sandbox.stop()


class Bot:
    """The test plays the bot through the sandbox's Bot API, as any Bot API client would."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/bot{BOT_TOKEN}", timeout=LONG_POLL_S + 10)
        self.offset = 0
        self.seen: list[dict[str, Any]] = []

    def call(self, method: str, files: dict[str, Any] | None = None, **params: Any) -> Any:
        if files:
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
            resp = self.http.post(f"/{method}", data=form, files=files)
        else:
            resp = self.http.post(f"/{method}", json=params)
        body = resp.json()
        assert body.get("ok") is True, f"{method} failed: {resp.status_code} {body}"
        return body["result"]

    def wait_update(self, what: str, match: Callable[[dict[str, Any]], bool], deadline_s: float) -> dict[str, Any]:
        """getUpdates (confirming each batch) until an update matches; on timeout say what came instead."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for update in self.call("getUpdates", offset=self.offset, timeout=LONG_POLL_S):
                self.offset = update["update_id"] + 1
                self.seen.append(update)
                if match(update):
                    return update
        raise AssertionError(f"no {what} within {deadline_s}s; updates seen: {self.seen}")

    def close(self) -> None:
        self.http.close()
