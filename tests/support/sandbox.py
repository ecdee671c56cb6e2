"""The one sandbox launcher: `python -m sandbox --port 0` as a child process, its URL read from
its ready line (the port the kernel gave it), stopped with SIGTERM then SIGKILL.

    sandbox = SandboxProcess(tmp_path)              # blocking: fixtures of any scope
    async with running_sandbox(tmp_path) as url:    # the same, from a trio test
        ...
    async with in_process_sandbox(tmp_path, media) as url:  # in this trio loop: fast to start

It runs in its data folder (away from any `.env` in the repository) and imports the bot from here.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio

from sandbox.__main__ import READY_PREFIX
from tests.support.paths import ROOT

START_DEADLINE_S = 60.0
STOP_GRACE_S = 5.0


class SandboxProcess:
    """`python -m sandbox --port 0`; `url` comes from its ready line, `stop()` leaves nothing."""

    def __init__(
        self, data_dir: Path, media_dir: Path | None = None, *extra: str, env: Mapping[str, str] | None = None
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = data_dir / "sandbox.stderr"
        self._stderr = self.stderr_path.open("wb")
        argv = [sys.executable, "-m", "sandbox", "--port", "0", "--data-dir", str(data_dir)]
        python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [*argv, *(["--media-dir", str(media_dir)] if media_dir else []), *extra],
            cwd=data_dir,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**(os.environ if env is None else env), "PYTHONPATH": python_path},
        )
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        try:
            self.url = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _drain(self) -> None:  # owns the pipe: reads it to its end, then closes it
        assert self.proc.stdout is not None
        with self.proc.stdout:
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

    def more_stdout(self, wait_s: float) -> list[str]:
        """Lines printed after the ready line, waiting up to `wait_s` for the stream to end."""
        out, deadline = [], time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
        return out

    def stderr(self) -> str:
        self._stderr.flush()
        return "stderr: " + self.stderr_path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drainer.join(STOP_GRACE_S)  # the pipe ends with the process, and the drainer closes it
        self._stderr.close()
        return self.proc.returncode


@asynccontextmanager
async def running_sandbox(data_dir: Path, media_dir: Path | None = None) -> AsyncIterator[str]:
    """`SandboxProcess` from a trio test: yields the URL, stops it on the way out."""
    sandbox = await trio.to_thread.run_sync(SandboxProcess, data_dir, media_dir)
    try:
        yield sandbox.url
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(sandbox.stop)


@asynccontextmanager
async def in_process_sandbox(data_dir: Path, media_dir: Path) -> AsyncIterator[str]:
    """The sandbox served from this process's trio loop (fast to start); yields its base URL."""
    from sandbox.server import serve

    async with trio.open_nursery() as nursery:
        with trio.fail_after(START_DEADLINE_S):
            url: str = await nursery.start(partial(serve, 0, data_dir, media_dir=media_dir))
        yield url
        nursery.cancel_scope.cancel()
