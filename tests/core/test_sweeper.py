"""The sweeper against a real spool folder and a real SQLite file: it removes what no attempt
owns any more and never a running attempt's files, and reports what it removed and the space."""

from __future__ import annotations

import json
import os
import time

import pytest

from core.config import load_settings
from core.db import open_db
from core.sweeper import folder_owner, sweep

NOW = time.time()


@pytest.fixture
def settings(tmp_path):
    environ = {"DATA_DIR": str(tmp_path / "data"), "SWEEP_MIN_AGE_S": "600"}
    return load_settings(environ=environ, env_file=None)


@pytest.fixture
def db(settings):
    db = open_db(settings.db_path, busy_timeout=5)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (1, 1, 1)")
    yield db
    db.close()


def job(db, state: str, lease: int) -> int:
    return int(
        db.execute(
            "INSERT INTO jobs (user_id, chat_id, url, request_key, state, lease, created_at, updated_at, finished_at)"
            " VALUES (1, 1, 'https://x.test/v', 'k', ?, ?, 1, 1, ?)",
            [state, lease, 1 if state in ("done", "failed", "cancelled") else None],
        ).lastrowid
    )


def put(path, size: int, *, age: float) -> None:
    """A file of `size` bytes last changed `age` seconds ago (its folder too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = NOW - age
    os.utime(path, (when, when))
    os.utime(path.parent, (when, when))


OLD = 3600.0  # older than SWEEP_MIN_AGE_S
FRESH = 5.0


def test_it_removes_orphans_and_keeps_a_running_attempts_files(settings, db):
    spool = settings.spool_dir
    running = job(db, "downloading", 3)
    done = job(db, "done", 1)
    retried = job(db, "downloading", 2)  # attempt 1 lost its job to the queue; attempt 2 runs
    waiting = job(db, "uploading", 1)
    put(spool / f"{running}-3" / "media.mp4.part", 1000, age=OLD)  # quiet for an hour: still running
    put(spool / f"{done}-1" / "media.mp4", 2000, age=OLD)
    put(spool / f"{retried}-1" / "media.mp4", 3000, age=OLD)  # the stale attempt
    put(spool / f"{retried}-2" / "media.mp4.part", 400, age=FRESH)
    put(spool / f"{waiting}-1" / "media.mp4", 500, age=OLD)
    put(spool / f"{waiting}-1" / "media.f137.mp4.part", 600, age=OLD)  # left by yt-dlp: the download is over
    put(spool / "9999-1" / "media.mp4", 700, age=OLD)  # no such job: a crash left it
    put(spool / "9998-1" / "media.mp4", 800, age=FRESH)  # no such job, but just written: not yet
    put(spool / "8888" / "media.mp4", 900, age=OLD)  # a folder of the older kind
    put(spool / "notes.txt", 10, age=OLD)  # not ours to judge
    put(spool / "stray.tmp", 20, age=OLD)
    payload = {
        "kind": "video",
        "path": str(spool / f"{waiting}-1" / "media.mp4"),
        "spool_dir": str(spool / f"{waiting}-1"),
    }
    db.execute(
        "INSERT INTO outbox (chat_id, kind, payload, state, created_at, job_id)"
        " VALUES (1, 'media', ?, 'pending', ?, ?)",
        [json.dumps(payload), NOW, waiting],
    )

    report = sweep(db, settings, now=NOW)

    left = sorted(str(p.relative_to(spool)) for p in spool.rglob("*") if p.is_file())
    assert left == sorted([
        f"{running}-3/media.mp4.part", f"{retried}-2/media.mp4.part", f"{waiting}-1/media.mp4",
        "9998-1/media.mp4", "notes.txt",
    ])  # fmt: skip
    assert sorted(os.path.basename(p) for p in report.folders) == sorted(
        [f"{done}-1", f"{retried}-1", "9999-1", "8888"]
    )
    assert sorted(os.path.basename(p) for p in report.partial_files) == ["media.f137.mp4.part", "stray.tmp"]
    assert report.freed_bytes == 2000 + 3000 + 700 + 900 + 600 + 20
    assert report.kept_running == 3
    assert sweep(db, settings, now=NOW).removed == 0  # nothing left to do


def test_a_job_that_moved_on_is_swept_once_its_files_are_old(settings, db):
    cancelled = job(db, "cancelled", 1)
    folder = settings.spool_dir / f"{cancelled}-1"
    put(folder / "media.mp4", 100, age=FRESH)
    assert sweep(db, settings, now=NOW).removed == 0
    assert sweep(db, settings, now=NOW + OLD).folders == [str(folder)]


def test_old_rotated_logs_and_unfinished_backups_go(settings, db):
    logs = settings.log_dir
    put(logs / "downloader-9.log", 100, age=30 * 86400)  # a live log (or the last of its kind): never removed
    put(logs / "downloader-9.log.1", 200, age=15 * 86400)  # that process runs no more: no rotation ends it
    put(logs / "gateway.log.3", 300, age=13 * 86400)  # within LOG_KEEP_DAYS (14)
    put(settings.backup_dir / "bot-20260101-000000.sqlite3", 400, age=OLD)
    put(settings.backup_dir / "bot-20260102-000000.sqlite3.tmp", 500, age=OLD)  # a backup cut short
    report = sweep(db, settings, now=NOW)
    assert [os.path.basename(p) for p in report.log_files] == ["downloader-9.log.1"]
    assert [os.path.basename(p) for p in report.partial_files] == ["bot-20260102-000000.sqlite3.tmp"]
    assert report.freed_bytes == 700
    assert sorted(p.name for p in logs.iterdir()) == ["downloader-9.log", "gateway.log.3"]


def test_folder_names():
    assert folder_owner("12-3") == (12, 3)
    assert folder_owner("12") == (12, None)
    for name in ("x-1", "12-", "12-a", "-3", "", "12-3-4"):
        assert folder_owner(name) is None, name
