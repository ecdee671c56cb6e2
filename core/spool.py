"""The spool: one folder per attempt at a job (`spool/<job_id>-<lease>/`) for what is downloaded
and not yet sent.

A folder belongs to one attempt: two attempts at the same job (a worker that was thought dead and
the one that took the job over) never share one, and an attempt removes only its own. File names
inside are ours, never the media's title. A folder is removed by whoever finishes with it (the
uploader after the last part is sent, the downloader after a failure, a cancel or a refused
result); the sweeper (`core.sweeper`) removes whatever a crash left behind, and the budget keeps the
disk from filling.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from core.config import Settings

log = logging.getLogger("spool")

GIB = 1024**3


def attempt_dir(settings: Settings, job_id: int, lease: int) -> Path:
    """The folder of one attempt at a job (its lease); `core.sweeper.folder_owner` reads it back."""
    return settings.spool_dir / f"{job_id}-{lease}"


def remove(path: Path, job_id: int | None = None) -> bool:
    """Remove a job's folder; a failure is logged with the path (the sweeper tries again)."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return True
    except OSError as exc:
        log.error("job %s: could not remove %s (%s); the sweeper will try again", job_id, path, exc)
        return False
    return True


def usage_bytes(spool: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(spool):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def budget_bytes(settings: Settings) -> int:
    return int(settings.spool_max_gb * GIB)


def disk_free_pct(path: Path) -> float:
    usage = shutil.disk_usage(path)
    return 100.0 * usage.free / usage.total if usage.total else 0.0


def has_room(settings: Settings, need_bytes: int, used_bytes: int | None = None) -> bool:
    """Would `need_bytes` more fit in the spool's budget and above the free-disk alert line?"""
    folder = settings.spool_dir if settings.spool_dir.is_dir() else settings.data_dir  # none made yet
    used = usage_bytes(settings.spool_dir) if used_bytes is None else used_bytes
    if used + need_bytes > budget_bytes(settings):
        return False
    usage = shutil.disk_usage(folder)
    after = usage.free - need_bytes
    return usage.total > 0 and 100.0 * after / usage.total >= settings.alert_disk_free_pct
