"""Run the real supervisor (`run.py`) as a subprocess and watch it the way an operator would:
its stdout/stderr, `/healthz`, and the OS process table. Every wait has a deadline and says
what it saw when it runs out."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import trio

from tests.support.bot import share_tables
from tests.support.paths import ROOT
from tests.support.poll import until
from tests.support.ports import port_of, refusing_socket

TOKEN = "123456:supervisor-test-token"
WAIT_INTERVAL = 0.05


# Below the kernel's ephemeral range (32768 and up here), so that connections other tests open
# at the same time cannot take one of the run's ports between the check and the bot's bind.
PORT_RUNS = range(20_000, 30_000)


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free ports (for IPC_BASE_PORT)."""
    for _ in range(100):
        base = random.choice(PORT_RUNS)
        try:
            held = []
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


HEALTH_URL = re.compile(r"\| health (http://\S+)")


class Bot:
    """One `python run.py ...` with its output collected in the background. Its ports are 0 (the
    kernel picks them): the monitor's comes from the ready line. Telegram is "down": BOTAPI_URL
    is a port that refuses connections."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = tmp_path / "data"
        self.health_url = ""  # known from the ready line on
        self.args = ["--data-dir", str(self.data_dir), "--monitor-port", "0", *args]
        self._telegram_down = refusing_socket()
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BACKEND": "botapi",
            "BOTAPI_URL": f"http://127.0.0.1:{port_of(self._telegram_down)}",
            "LOG_LEVEL": "info",
            **(env or {}),
        }
        self.cwd = tmp_path
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.process: trio.Process | None = None

    async def start(self, nursery: trio.Nursery) -> None:
        share_tables(into=self.data_dir / "run")
        self.process = await trio.lowlevel.open_process(
            [sys.executable, str(ROOT / "run.py"), *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        nursery.start_soon(self._collect, self.process.stdout, self.stdout)
        nursery.start_soon(self._collect, self.process.stderr, self.stderr)

    @staticmethod
    async def _collect(stream: Any, lines: list[str]) -> None:
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines.extend(line.decode(errors="replace") for line in done)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return "\n".join(["-- stdout --", *self.stdout[-40:], "-- stderr --", *self.stderr[-150:]])

    async def wait_for(
        self, what: str, check: Callable[[], Any], timeout: float = 30.0, *, needs_running: bool = True
    ) -> Any:
        """Poll `check` until it returns something truthy, or fail saying what was seen
        (at once if the supervisor died and `needs_running`); an exception counts as "not yet"."""

        def exited() -> bool:
            return needs_running and self.process is not None and self.process.returncode is not None

        return await until(
            what, check, timeout, describe=self.output, interval=WAIT_INTERVAL, not_yet=(Exception,), give_up=exited
        )

    async def ready_line(self, timeout: float = 60.0) -> str:
        line = str(
            await self.wait_for(
                "the ready line",
                lambda: next((line for line in self.stdout if line.startswith("ready:")), None),
                timeout,
            )
        )
        found = HEALTH_URL.search(line)
        assert found, f"no health URL in the ready line: {line}"
        self.health_url = found.group(1)
        return line

    def health(self) -> dict[str, Any]:
        assert self.health_url, "the monitor's port is known from the ready line on: await ready_line() first"
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:  # 503: not all is well; the report says what
            return dict(json.load(exc))

    def processes(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.health()["processes"]}

    def child_pids(self) -> set[int]:
        try:
            return {c.pid for c in psutil.Process(self.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    async def stop(self) -> None:
        """Leave nothing behind: SIGKILL the supervisor and every process it started."""
        self._telegram_down.close()
        if self.process is None:
            return
        pids = self.child_pids()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pids: set[int]) -> Callable[[], bool]:
    return lambda: not any(alive(pid) for pid in pids)


def now() -> float:
    return time.monotonic()
