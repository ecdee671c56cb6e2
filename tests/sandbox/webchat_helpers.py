"""Helpers for the web chat browser test: a real sandbox process, a bot played through the Bot API,
and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.sandbox import SandboxProcess

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


Sandbox = SandboxProcess


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
