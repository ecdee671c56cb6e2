"""Running ffmpeg and ffprobe from a worker thread: local files only, killable, stall-guarded.

Every run reads only local files: inputs are given as absolute `file:` URLs (a name can't pass
for an option or a protocol), `-protocol_whitelist file,pipe` stops a hostile playlist or
container from making ffmpeg fetch a URL (and no run gets a proxy in its environment), and
`-format_whitelist` limits the demuxers to plain media containers and pictures, because the
playlist-style ones (hls, concat, ...) read other files named inside the input, which would let
a crafted download pull any local file (the bot's database, say) into the video we send back.

There is no total timeout (a three-hour film must finish) but a stall guard: a run that has
neither moved its `-progress` report nor read or written a file for `stall_timeout` seconds
is stopped (see `_StallClock`). A cancel flag (a
`threading.Event` or anything with `is_set()`) is checked every `POLL_INTERVAL_S`; ffmpeg is
then sent SIGTERM, SIGKILL after `TERM_GRACE_S`, its partial outputs removed and `Cancelled`
raised. Errors carry ffmpeg's last stderr lines for the log; the caller logs them once, with
its job id, and shows users its own words.
"""

from __future__ import annotations

import logging
import math
import os
import selectors
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from downloader.egress.children import LOCAL_PROTOCOLS, without_proxies

__all__ = [
    "DEMUXERS",
    "PROTOCOLS",
    "STALL_TIMEOUT_S",
    "CancelFlag",
    "Cancelled",
    "MediaError",
    "ProgressFn",
    "input_args",
    "local_url",
    "run_ffmpeg",
    "run_ffprobe",
]

log = logging.getLogger("downloader.ffmpeg")

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
PROTOCOLS = LOCAL_PROTOCOLS  # no protocol that opens a socket
DEMUXERS = ",".join(
    (
        "mov",  # mov,mp4,m4a,3gp,3g2,mj2
        "matroska",  # matroska,webm
        "webm",
        "mpegts",
        "flv",
        "avi",
        "asf",
        "mpeg",
        "mp3",
        "aac",
        "ogg",
        "flac",
        "wav",
        "ac3",
        "eac3",
        "image2",
        "jpeg_pipe",
        "png_pipe",
        "webp_pipe",
        "bmp_pipe",
    )
)
STALL_TIMEOUT_S = 60.0  # no progress this long: the run is stuck (a blocked input, a hung decoder)
TERM_GRACE_S = 0.75  # SIGTERM to SIGKILL; ffmpeg's own clean-up (faststart rewrite) can be long
POLL_INTERVAL_S = 0.1  # how often the cancel flag and the stall clock are looked at
PROGRESS_INTERVAL_S = 0.25  # at most this often the progress callback is called
IO_SAMPLE_INTERVAL_S = 1.0  # how often the stall clock looks at the process's file I/O
STDERR_TAIL_LINES = 20
MAX_LINE_CHARS = 1000
READ_CHUNK = 64 * 1024

ProgressFn = Callable[[float], None]


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class MediaError(Exception):
    """ffmpeg or ffprobe failed; `stderr_tail` holds its last error lines (for the log only)."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail

    def __str__(self) -> str:
        return f"{self.message}: {self.stderr_tail}" if self.stderr_tail else self.message


class Cancelled(Exception):
    """The cancel flag was set; the process is gone and its partial output removed."""


def local_url(path: Path) -> str:
    """An absolute `file:` URL: never read as an option (`-x.mp4`) or a protocol (`http:x`)."""
    return "file:" + os.path.abspath(path)


def input_args(path: Path) -> list[str]:
    """The options that open `path` as a local media input, and nothing else."""
    return ["-protocol_whitelist", PROTOCOLS, "-format_whitelist", DEMUXERS, "-i", local_url(path)]


def run_ffmpeg(
    args: Sequence[str],
    *,
    outputs: Sequence[Path],
    duration: float | None,
    cancel: CancelFlag | None = None,
    progress: ProgressFn | None = None,
    stall_timeout: float = STALL_TIMEOUT_S,
) -> None:
    """Run ffmpeg with `args` (inputs via `input_args`); `outputs` (files or folders) are
    removed when it fails, stalls or is cancelled. `progress(fraction)` gets out_time/duration."""
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y", *args]
    tracker = _ProgressTracker(duration, progress)
    _run(cmd, tracker.feed, cancel=cancel, stall_timeout=stall_timeout, outputs=outputs)
    if progress is not None:
        progress(1.0)


def run_ffprobe(
    args: Sequence[str],
    *,
    cancel: CancelFlag | None = None,
    stall_timeout: float = STALL_TIMEOUT_S,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run ffprobe with `args` and return its standard output, or hand each line to `on_line`
    (and return ""), for outputs too big to hold. Any output line counts as life."""
    lines: list[str] = []
    sink = on_line or lines.append

    def take(line: str) -> bool:
        sink(line)
        return True

    _run([FFPROBE, "-v", "error", "-hide_banner", *args], take, cancel=cancel, stall_timeout=stall_timeout)
    return "\n".join(lines)


class _ProgressTracker:
    """Reads `-progress` key=value blocks; a block whose position moved is progress."""

    def __init__(self, duration: float | None, callback: ProgressFn | None) -> None:
        self.duration = duration if duration and duration > 0 else None
        self.callback = callback
        self.block: dict[str, str] = {}
        self.last_position: tuple[str | None, ...] | None = None
        self.last_report = -math.inf

    def feed(self, line: str) -> bool:
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key != "progress":
            if key:
                self.block[key] = value
            return False
        position = tuple(self.block.get(k) for k in ("out_time_us", "total_size", "frame"))
        moved = position != self.last_position
        self.last_position = position
        if moved:
            self._report(self.block.get("out_time_us"))
        self.block = {}
        return moved

    def _report(self, out_time_us: str | None) -> None:
        now = time.monotonic()
        if self.callback is None or self.duration is None or now - self.last_report < PROGRESS_INTERVAL_S:
            return
        try:
            seconds = int(out_time_us or "") / 1e6
        except ValueError:
            return
        self.last_report = now
        self.callback(min(max(seconds / self.duration, 0.0), 1.0))


def _run(
    cmd: list[str],
    on_stdout_line: Callable[[str], bool],
    *,
    cancel: CancelFlag | None,
    stall_timeout: float,
    outputs: Sequence[Path] = (),
) -> None:
    name = cmd[0]
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=without_proxies()
        )
    except OSError as exc:
        raise MediaError(f"cannot start {name}: {exc}") from None
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    finished = False
    try:
        _pump(proc, on_stdout_line, tail, cancel=cancel, stall_timeout=stall_timeout)
        finished = proc.returncode == 0
    except MediaError as exc:
        exc.stderr_tail = exc.stderr_tail or "\n".join(tail)
        raise
    finally:
        if proc.poll() is None:
            _stop(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        if not finished:
            _remove(outputs)
    if proc.returncode != 0:
        raise MediaError(f"{name} exited with {proc.returncode}", "\n".join(tail))


def _pump(
    proc: subprocess.Popen[bytes],
    on_stdout_line: Callable[[str], bool],
    tail: deque[str],
    *,
    cancel: CancelFlag | None,
    stall_timeout: float,
) -> None:
    """Read both pipes until the process exits, watching the cancel flag and the stall clock."""
    assert proc.stdout is not None and proc.stderr is not None
    clock = _StallClock(proc.pid, stall_timeout)

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if clock.stalled():
            raise MediaError(f"stalled: no progress for {stall_timeout:g} s")

    pending: dict[int, bytes] = {proc.stdout.fileno(): b"", proc.stderr.fileno(): b""}
    out_fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        for pipe in (proc.stdout, proc.stderr):
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            check()
            for key, _ in selector.select(POLL_INTERVAL_S):
                fd = key.fd
                chunk = os.read(fd, READ_CHUNK)
                clock.piped += len(chunk)
                if chunk:
                    *lines, pending[fd] = (pending[fd] + chunk).split(b"\n")
                    if len(pending[fd]) > READ_CHUNK:  # a runaway line: take it as it is
                        lines.append(pending[fd])
                        pending[fd] = b""
                else:
                    selector.unregister(key.fileobj)
                    lines, pending[fd] = [pending[fd]], b""
                for raw in lines:
                    text = raw.decode("utf-8", "replace").rstrip("\r")
                    if fd == out_fd:
                        if on_stdout_line(text):
                            clock.alive()
                    elif text.strip():
                        tail.append(text[:MAX_LINE_CHARS])
    while True:
        try:
            proc.wait(POLL_INTERVAL_S)
            return
        except subprocess.TimeoutExpired:
            check()


class _StallClock:
    """How long the run has shown no life. Life is a progress report that moved or, between
    reports, the process reading or writing files: ffmpeg reports nothing while it rewrites a
    big MP4 for faststart at the end. File I/O is the kernel's rchar + wchar for the process
    (/proc/<pid>/io) less the bytes it sent us through its pipes, so repeating an unchanged
    progress report is not life. Where /proc has no io file, only progress counts."""

    def __init__(self, pid: int, timeout: float) -> None:
        self.pid = pid
        self.timeout = timeout
        self.piped = 0  # bytes we have read from the process's stdout and stderr
        self.last_life = self.io_sampled = time.monotonic()
        self.io = self._file_io()

    def alive(self) -> None:
        self.last_life = time.monotonic()

    def stalled(self) -> bool:
        now = time.monotonic()
        if now - self.io_sampled >= IO_SAMPLE_INTERVAL_S:
            self.io_sampled = now
            io = self._file_io()
            if io is not None and io != self.io:
                self.io = io
                self.last_life = now
        return now - self.last_life > self.timeout

    def _file_io(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/io", encoding="ascii") as f:
                counters = dict(line.split(":", 1) for line in f if ":" in line)
            return int(counters["rchar"]) + int(counters["wchar"]) - self.piped
        except (OSError, KeyError, ValueError):
            return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        log.warning("%s (pid %d) ignored SIGTERM for %.2f s; killing it", _name(proc), proc.pid, TERM_GRACE_S)
        proc.kill()
        proc.wait()


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    return str(args[0]) if isinstance(args, list | tuple) and args else str(args)


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the partial output %s: %s", path, exc)
