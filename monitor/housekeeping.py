"""The monitor's rounds: the sweeper every SWEEP_INTERVAL, a backup every BACKUP_INTERVAL_H, and
one summary line of the key figures every SUMMARY_INTERVAL.

The sweeper and the backup block (file system, SQLite's backup API), so each runs in a thread
with its own database connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from core import backup, sweeper
from core.config import Settings
from core.db import open_connection
from ipc.messages import HealthReport

log = logging.getLogger("monitor.housekeeping")

HOUR = 3600.0
MB = 1_000_000


async def sweep_forever(settings: Settings) -> None:
    while True:
        await trio.sleep(settings.sweep_interval)
        try:
            await trio.to_thread.run_sync(sweep_once, settings)
        except Exception:  # a sweep that failed is tried again next time; the monitor stays up
            log.exception("the sweep failed")


def sweep_once(settings: Settings) -> sweeper.SweepReport:
    db = open_connection(settings.db_path, busy_timeout=settings.db_busy_timeout)
    try:
        return sweeper.sweep(db, settings)
    finally:
        db.close()


async def back_up_forever(settings: Settings, clock: Callable[[], float] = time.time) -> None:
    """One backup per BACKUP_INTERVAL_H, counted from the newest one (a restart makes no extra)."""
    if not settings.backup_interval_h:
        return
    interval = settings.backup_interval_h * HOUR
    while True:
        made = backup.backups(settings)
        newest = made[-1].stat().st_mtime if made else 0.0
        await trio.sleep(max(0.0, newest + interval - clock()))
        try:
            await trio.to_thread.run_sync(backup.backup, settings)
        except Exception:
            log.exception("the daily backup failed; trying again in %.0f s", interval)
            await trio.sleep(interval)


class Summary:
    """One log line of the key figures since the last one."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def line(self, report: HealthReport, totals: dict[str, float]) -> str:
        grown = {name: value - self._last.get(name, 0.0) for name, value in totals.items()}
        self._last = dict(totals)
        rss = sum(p.rss_bytes for p in report.processes) / MB
        m = report.machine
        alerts = ", ".join(a.kind for a in report.alerts) or "none"
        return (
            f"summary: {report.status}; jobs done {grown.get('done', 0):.0f}, failed {grown.get('failed', 0):.0f};"
            f" queue {report.queue.queued} queued, {report.queue.running} running;"
            f" sends {grown.get('sends', 0):.0f}, flood waits {grown.get('flood_waits', 0):.0f};"
            f" rss {rss:.0f} MB in {len(report.processes)} processes; disk {m.disk_free_pct:.0f} % free,"
            f" memory {m.memory_pct:.0f} %, cpu {m.cpu_pct:.0f} %; spool {m.spool_bytes / MB:.0f} MB;"
            f" alerts: {alerts}"
        )
