"""psutil's view: the machine (free disk of DATA_DIR, memory, CPU, load), the spool and database
sizes, and each process (RSS, CPU, threads, open files).

CPU percentages are measured between two readings (psutil's `interval=None`): the first reading
of a machine or of a new pid says 0. One `psutil.Process` is kept per pid for that reason, and
forgotten when the pid is gone.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from core import spool
from core.config import Settings
from ipc.messages import MachineHealth

log = logging.getLogger("monitor.system")


@dataclass(frozen=True)
class ProcessReading:
    rss_bytes: int = 0
    cpu_percent: float = 0.0
    threads: int = 0
    open_files: int = 0


class Sampler:
    """Readings of the machine and of the bot's processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._processes: dict[int, psutil.Process] = {}
        psutil.cpu_percent(interval=None)  # the next reading measures from here

    def machine(self) -> MachineHealth:
        """A full reading; walks the spool folder, so once per HEALTH_CHECK_INTERVAL."""
        data = self.settings.data_dir
        disk = psutil.disk_usage(str(data))
        return MachineHealth(
            disk_free_bytes=disk.free,
            disk_free_pct=round(100.0 * disk.free / disk.total, 2) if disk.total else 0.0,
            memory_pct=psutil.virtual_memory().percent,
            cpu_pct=psutil.cpu_percent(interval=None),
            load=os.getloadavg(),
            spool_bytes=spool.usage_bytes(self.settings.spool_dir) if self.settings.spool_dir.is_dir() else 0,
            database_bytes=database_bytes(self.settings.db_path),
            checked_at=time.time(),
        )

    def process(self, pid: int) -> ProcessReading:
        """A process's figures; zeros when the pid is gone or not ours to read."""
        if pid <= 0:
            return ProcessReading()
        proc = self._processes.get(pid)
        try:
            if proc is None:
                proc = self._processes[pid] = psutil.Process(pid)
                proc.cpu_percent(interval=None)  # the first reading is always 0: start the clock
            with proc.oneshot():
                return ProcessReading(
                    rss_bytes=proc.memory_info().rss,
                    cpu_percent=proc.cpu_percent(interval=None),
                    threads=proc.num_threads(),
                    open_files=proc.num_fds(),
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            return ProcessReading()

    def keep_only(self, pids: set[int]) -> None:
        """Forget the processes that are gone (their pids may be reused)."""
        for pid in list(self._processes):
            if pid not in pids:
                del self._processes[pid]


def database_bytes(db_path: Path) -> int:
    """The database with its WAL and shared-memory files."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.stat(f"{db_path}{suffix}").st_size
        except OSError:
            continue
    return total
