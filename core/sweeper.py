"""The sweeper: what crashes and old runs leave behind, removed. The monitor runs it every
SWEEP_INTERVAL; an admin's /cleanup runs it at once.

It removes:
- spool folders (`spool/<job_id>-<lease>`, or the older `spool/<job_id>`) of attempts that are no
  longer active: the job is over, unknown, or holds another lease now, and no unsent file points
  into the folder;
- partial files (`*.part`, `*.ytdl`, `*.tmp`, ...) in folders whose download is over, beside the
  spool's folders, and in the backups folder;
- rotated log files in DATA_DIR/logs (`<process>.log.<n>`) older than LOG_KEEP_DAYS: the files of
  processes that no longer run, which no rotation removes.

Everything must also be older than SWEEP_MIN_AGE_S (by its newest change), so an attempt that
has just begun, or is still writing, is never touched. A running attempt's folder (the job is
active under that very lease) is kept whatever its age. The report says what was removed and
the space freed.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from core import spool
from core.config import Settings
from core.db import Database
from core.schema import JOB_ACTIVE_STATES

__all__ = ["SweepReport", "sweep"]

log = logging.getLogger("sweeper")

PARTIAL_SUFFIXES = (".part", ".ytdl", ".tmp", ".temp")  # yt-dlp's, ffmpeg's and our own unfinished files
PARTIAL_INFIXES = (".part-Frag", ".temp.")  # yt-dlp's fragments, its post-processors' temporary outputs
DAY = 86400.0


@dataclass
class SweepReport:
    folders: list[str] = field(default_factory=list)
    partial_files: list[str] = field(default_factory=list)
    log_files: list[str] = field(default_factory=list)
    kept_running: int = 0  # spool folders of running attempts, left alone
    freed_bytes: int = 0

    @property
    def removed(self) -> int:
        return len(self.folders) + len(self.partial_files) + len(self.log_files)

    def describe(self) -> str:
        return (
            f"{len(self.folders)} spool folder(s), {len(self.partial_files)} partial file(s),"
            f" {len(self.log_files)} old log file(s): {self.freed_bytes} bytes freed"
        )


def sweep(db: Database, settings: Settings, *, now: float | None = None) -> SweepReport:
    """Remove what is no longer anyone's (see the module's docstring); never raises for a file
    that cannot be removed (logged, tried again next time)."""
    now = time.time() if now is None else now
    report = SweepReport()
    _sweep_spool(db, settings, now, report)
    for folder in (settings.backup_dir,):
        _remove_partials(folder, now - settings.sweep_min_age_s, report)
    _sweep_logs(settings.log_dir, now - settings.log_keep_days * DAY, report)
    if report.removed:
        log.info("swept %s", report.describe())
    return report


def folder_owner(name: str) -> tuple[int, int | None] | None:
    """(job id, lease) of a spool folder's name; lease None for a folder of the older kind."""
    job, sep, lease = name.partition("-")
    if not job.isdigit() or (sep and not lease.isdigit()):
        return None
    return int(job), int(lease) if sep else None


def _sweep_spool(db: Database, settings: Settings, now: float, report: SweepReport) -> None:
    spool = settings.spool_dir
    if not spool.is_dir():
        return
    old_enough = now - settings.sweep_min_age_s
    folders: dict[Path, tuple[int, int | None]] = {}
    for entry in spool.iterdir():
        owner = folder_owner(entry.name) if entry.is_dir() and not entry.is_symlink() else None
        if owner is not None:
            folders[entry] = owner
        elif entry.is_file() and _is_partial(entry.name) and _newest_change(entry) < old_enough:
            _remove(entry, report.partial_files, report)
    if not folders:
        return
    jobs = _jobs(db, {job for job, _ in folders.values()})
    waiting_folders, waiting_jobs = _waiting(db, {job for job, _ in folders.values()})
    for path, (job_id, lease) in sorted(folders.items()):
        state, current_lease = jobs.get(job_id, (None, None))
        running = state in JOB_ACTIVE_STATES and (lease is None or lease == current_lease)
        waited_for = str(path) in waiting_folders or (lease is None and job_id in waiting_jobs)
        if running or waited_for:
            report.kept_running += 1
            if state not in ("probing", "downloading"):  # the download is over: leftovers of it may go
                _remove_partials(path, old_enough, report)
            continue
        if _newest_change(path) >= old_enough:
            continue
        _remove(path, report.folders, report)


def _jobs(db: Database, ids: set[int]) -> dict[int, tuple[str, int]]:
    found: dict[int, tuple[str, int]] = {}
    chunk = sorted(ids)
    for start in range(0, len(chunk), _CHUNK):
        part = chunk[start : start + _CHUNK]
        for job_id, state, lease in db.execute(
            f"SELECT id, state, lease FROM jobs WHERE id IN ({','.join('?' * len(part))})", part
        ).fetchall():
            found[job_id] = (state, lease)
    return found


def _waiting(db: Database, ids: set[int]) -> tuple[set[str], set[int]]:
    """Folders that unsent files point into, and the jobs of those files (for older folders)."""
    folders: set[str] = set()
    jobs: set[int] = set()
    chunk = sorted(ids)
    for start in range(0, len(chunk), _CHUNK):
        part = chunk[start : start + _CHUNK]
        for job_id, folder in db.execute(
            "SELECT job_id, json_extract(payload, '$.spool_dir') FROM outbox WHERE kind = 'media'"
            f" AND state IN ('pending', 'sending') AND job_id IN ({','.join('?' * len(part))})",
            part,
        ).fetchall():
            jobs.add(job_id)
            if folder:
                folders.add(str(Path(folder)))
    return folders, jobs


_CHUNK = 500  # ids per query (SQLite's limit on parameters is far above)


def _is_partial(name: str) -> bool:
    return name.endswith(PARTIAL_SUFFIXES) or any(infix in name for infix in PARTIAL_INFIXES)


def _remove_partials(folder: Path, old_enough: float, report: SweepReport) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_file() and _is_partial(entry.name) and _newest_change(entry) < old_enough:
            _remove(entry, report.partial_files, report)


def _sweep_logs(folder: Path, old_enough: float, report: SweepReport) -> None:
    """Rotated logs (`<name>.log.<n>`) past the retention; a live `<name>.log` stays (a process
    may still write to it)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_file() and ".log." in entry.name and _newest_change(entry) < old_enough:
            _remove(entry, report.log_files, report)


def _newest_change(path: Path) -> float:
    """The latest mtime of `path` and, for a folder, of what it holds (a running download touches
    its files, not always the folder)."""
    try:
        newest = path.lstat().st_mtime
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                for name in (*dirs, *files):
                    try:
                        newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                    except OSError:
                        continue
    except OSError:
        return time.time()  # gone or unreadable: not old
    return newest


def _size(path: Path) -> int:
    if path.is_dir():
        return spool.usage_bytes(path)
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _remove(path: Path, into: list[str], report: SweepReport) -> None:
    size = _size(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        log.error("could not remove %s (%s); the sweeper will try again", path, exc)
        return
    into.append(str(path))
    report.freed_bytes += size
