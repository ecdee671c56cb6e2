"""The processes the supervisor runs, and their live state."""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio

from core.supervisor.policy import RestartTracker

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The sandbox prints this, followed by its URL, once it listens.
SANDBOX_READY_PREFIX = "SANDBOX_READY "

# A child's state in the process table (/healthz): anything but ready is degraded.
STATE_STARTING = "starting"
STATE_READY = "ready"
STATE_BACKOFF = "backoff"  # waiting to be restarted
STATE_COOLING = "cooling"  # its kind crash-loops: resting CRASH_LOOP_COOLDOWN before the next try
STATE_STOPPED = "stopped"


@dataclass(frozen=True)
class ChildSpec:
    name: str  # "gateway", "downloader-2", ...
    kind: str  # restarts are limited per kind: all downloaders share one crash-loop budget
    argv: tuple[str, ...]
    ready_on_stdout: bool = False  # readiness is a stdout line (the sandbox), not an IPC message


def bot_specs(workers: int) -> list[ChildSpec]:
    """The bot's own processes, in start order."""
    py = sys.executable
    specs = [
        ChildSpec("monitor", "monitor", (py, "-m", "monitor")),
        ChildSpec("uploader", "uploader", (py, "-m", "uploader")),
        ChildSpec("gateway", "gateway", (py, "-m", "gateway")),
    ]
    specs += [
        ChildSpec(f"downloader-{i}", "downloader", (py, "-m", "downloader", "--name", f"downloader-{i}"))
        for i in range(1, workers + 1)
    ]
    return specs


def sandbox_spec(port: int, data_dir: str) -> ChildSpec:
    argv = (sys.executable, "-m", "sandbox", "--port", str(port), "--data-dir", data_dir)
    return ChildSpec("sandbox", "sandbox", argv, ready_on_stdout=True)


def on_port(spec: ChildSpec, port: int) -> ChildSpec:
    """The same child bound to `port` (its `--port` flag): a restart keeps the port it was given."""
    argv = list(spec.argv)
    argv[argv.index("--port") + 1] = str(port)
    return dataclasses.replace(spec, argv=tuple(argv))


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class Child:
    spec: ChildSpec
    tracker: RestartTracker
    process: trio.Process | None = None
    state: str = STATE_STARTING
    started_at: float = 0.0  # trio clock
    started_wall: float = 0.0  # time.time(), for people
    last_heartbeat: float = 0.0  # trio clock
    last_exit: str = ""
    ready: trio.Event = field(default_factory=trio.Event)
    respawned: trio.Event | None = None  # a planned restart is under way: set when the new process starts

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None and self.process.returncode is None else 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def mark_started(self, process: trio.Process) -> None:
        self.process = process
        self.state = STATE_STARTING
        self.started_at = self.last_heartbeat = trio.current_time()
        self.started_wall = time.time()
        if self.ready.is_set():  # a restart: readiness must be earned again
            self.ready = trio.Event()
        if self.respawned is not None:
            self.respawned.set()
            self.respawned = None
