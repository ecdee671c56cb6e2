"""What the monitor knows of the processes: the supervisor's table, heartbeats (timed by the
monitor's own clock when they arrive, so another host's clock does not matter) and psutil; and
the whole report that /healthz serves and /health shows.

Status: `down` when the bot hears nobody (no gateway running: no update is received), `degraded`
when any process is not running as it should (restarting, paused after a crash loop, stalled) or
a critical alert is active, `ok` otherwise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import msgspec

from core.config import Settings
from ipc.messages import (
    HOST_JOINED,
    HOST_LEFT,
    HOST_LOST,
    ActiveAlert,
    HealthReport,
    Heartbeat,
    HostHealth,
    HostStatus,
    MachineHealth,
    ProcessHealth,
    ProcessInfo,
    ProcessTable,
    QueueHealth,
)
from monitor.queries import Figures
from monitor.rules import CRITICAL_KINDS, STALLED
from monitor.system import ProcessReading, Sampler

UNREACHABLE = "unreachable"  # a process of a downloader host that went silent
RECEIVER = "gateway"  # without it the bot hears nobody
NO_HEARTBEAT = ("supervisor", "sandbox")  # processes that send none
SUPERVISOR = "supervisor"


class Health:
    def __init__(
        self,
        settings: Settings,
        name: str,
        sampler: Sampler,
        table: Callable[[], ProcessTable | None],
        *,
        supervised: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.name = name
        self.sampler = sampler
        self.table = table
        self.supervised = supervised  # under run.py: the table is the truth, heartbeats add to it
        self.clock = clock
        self.started = clock()
        self.beats: dict[str, tuple[int, float]] = {}  # name -> (pid, received at)
        self.hosts: dict[str, tuple[HostStatus, float]] = {}  # joined host -> (its latest status, received at)
        self.machine = MachineHealth()

    def heartbeat(self, beat: Heartbeat) -> None:
        self.beats[beat.name] = (beat.pid, self.clock())

    def host_status(self, status: HostStatus) -> None:
        self.hosts[status.host] = (status, self.clock())

    def host_rows(self) -> list[HostHealth]:
        """Every downloader host that joined: joined, lost (silent past HEARTBEAT_TIMEOUT) or left."""
        now, out = self.clock(), []
        for name, (status, at) in sorted(self.hosts.items()):
            age = now - at
            state = HOST_LEFT if status.leaving else HOST_LOST if age > self.settings.heartbeat_timeout else HOST_JOINED
            downloaders = sum(1 for p in status.processes if p.name.startswith("downloader"))
            out.append(HostHealth(name, state, round(age, 3), downloaders, status.machine))
        return out

    def remote_processes(self) -> list[ProcessHealth]:
        """The joined hosts' processes, with the figures their hosts read; unreachable with their host."""
        out = []
        for host in self.host_rows():
            if host.state == HOST_LEFT:
                continue
            for p in self.hosts[host.name][0].processes:
                beat = self.beats.get(p.name)
                age = round(self.clock() - beat[1], 3) if beat is not None and beat[0] == p.pid else None
                state = p.state
                if host.state == HOST_LOST:
                    state = UNREACHABLE
                elif state == "ready" and age is not None and age > self.settings.heartbeat_timeout:
                    state = STALLED
                out.append(msgspec.structs.replace(p, state=state, heartbeat_age_s=age))
        return out

    def backend(self) -> str:
        return "sandbox" if self.settings.sandbox else self.settings.telegram_backend

    def rows(self) -> list[ProcessInfo]:
        """The processes: the supervisor's table; alone (procfile), whatever heart-beats."""
        table = self.table()
        if table is not None:
            return list(table.processes)
        if self.supervised:
            return []  # the table comes at once after we are ready
        now = self.clock()
        rows = [ProcessInfo(name, pid, 0, "ready", now) for name, (pid, _) in sorted(self.beats.items())]
        if self.name not in self.beats:
            rows.append(ProcessInfo(self.name, os.getpid(), 0, "ready", self.started))
        return rows

    def processes(self, *, sample: bool = True) -> list[ProcessHealth]:
        """Every process with its state; with psutil's readings when `sample`."""
        now = self.clock()
        out = []
        for row in self.rows():
            beat = self.beats.get(row.name)
            age = round(now - beat[1], 3) if beat is not None and beat[0] == row.pid else None
            state = row.state
            silent = age is not None and age > self.settings.heartbeat_timeout
            if state == "ready" and silent and row.name not in NO_HEARTBEAT:
                state = STALLED
            reading = self.sampler.process(row.pid) if sample else ProcessReading()
            out.append(
                ProcessHealth(
                    name=row.name,
                    pid=row.pid,
                    state=state,
                    rss_bytes=reading.rss_bytes,
                    cpu_percent=reading.cpu_percent,
                    heartbeat_age_s=age,
                    restarts=row.restarts,
                    threads=reading.threads,
                    open_files=reading.open_files,
                    last_exit=row.last_exit,
                )
            )
        if sample:
            self.sampler.keep_only({p.pid for p in out})
        return out + self.remote_processes()

    def report(self, figures: Figures, alerts: list[ActiveAlert]) -> HealthReport:
        processes = self.processes()
        return HealthReport(
            status=status(processes, alerts),
            uptime_s=round(self.clock() - self.started, 1),
            backend=self.backend(),
            processes=processes,
            queue=QueueHealth(queued=figures.queued, running=figures.running),
            active_users_24h=figures.active_users_24h,
            alerts=alerts,
            machine=self.machine,
            hosts=self.host_rows(),
        )

    def uploader_state(self) -> str | None:
        """The uploader's state as /healthz shows it (None: no uploader known)."""
        for row in self.processes(sample=False):
            if row.name == "uploader":
                return row.state
        return None


def status(processes: list[ProcessHealth], alerts: list[ActiveAlert]) -> str:
    bot = [p for p in processes if p.name != SUPERVISOR]
    if not any(p.name == RECEIVER and p.state == "ready" for p in bot):
        return "down"
    if any(p.state != "ready" for p in bot) or any(a.kind in CRITICAL_KINDS for a in alerts):
        return "degraded"
    return "ok"
