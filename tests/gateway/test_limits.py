"""The limits' pieces on a real SQLite file, on a scripted clock: notices once per interval, rate
windows, the disk reading cached between measurements."""

from __future__ import annotations

import pytest

from core.config import load_settings
from core.db import open_db
from gateway.limits import DiskBudget, notice_due, purge_marks, rate_room, spend


@pytest.fixture
def db(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None)
    handle = open_db(settings.db_path, busy_timeout=5)
    try:
        yield handle
    finally:
        handle.close()


def test_a_notice_is_due_once_per_interval_per_user_and_kind(db):
    assert notice_due(db, 1, "hint", 60, now=1000)
    assert not notice_due(db, 1, "hint", 60, now=1059)
    assert notice_due(db, 1, "rate", 60, now=1059)  # another kind
    assert notice_due(db, 2, "hint", 60, now=1059)  # another user
    assert notice_due(db, 1, "hint", 60, now=1060)


def test_a_rate_window_counts_links_and_starts_afresh_after_a_minute(db):
    assert rate_room(db, 1, "rate", 10, now=0).left == 10
    spend(db, 1, "rate", 7, now=0)
    spend(db, 1, "rate", 2, now=30)
    room = rate_room(db, 1, "rate", 10, now=45)
    assert room.left == 1 and room.resets_in == pytest.approx(15)
    assert rate_room(db, 2, "rate", 10, now=45).left == 10
    spend(db, 1, "rate", 4, now=61)  # the first window is over: this one starts at 61
    assert rate_room(db, 1, "rate", 10, now=62).left == 6
    assert rate_room(db, 1, "rate", 10, now=121).left == 10


def test_expired_marks_are_purged(db):
    spend(db, 1, "rate", 1, now=0)
    notice_due(db, 1, "hint", 600, now=0)
    assert purge_marks(db, now=61) == 1
    assert db.execute("SELECT mark FROM user_marks").fetchall() == [("notice:hint",)]


async def test_the_disk_is_measured_at_most_once_per_interval_and_refuses_past_the_budget(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "SPOOL_MAX_GB": "0.001"}, env_file=None)
    now = [0.0]
    disk = DiskBudget(settings, interval=5, clock=lambda: now[0])
    measured: list[float] = []
    real = disk.measure

    def measure() -> tuple[int, float]:
        measured.append(now[0])
        return real()

    disk.measure = measure  # type: ignore[method-assign]
    await disk.refresh()
    assert disk.room
    job = settings.spool_dir / "77"
    job.mkdir(parents=True)
    (job / "part").write_bytes(b"x" * (2 * 1024 * 1024))  # 2 MiB: over a 0.001 GB budget
    now[0] = 4
    await disk.refresh()
    assert disk.room  # not measured again yet
    now[0] = 5
    await disk.refresh()
    assert not disk.room and disk.used_bytes == 2 * 1024 * 1024
    assert measured == [0, 5]


async def test_too_little_free_disk_refuses_too(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "ALERT_DISK_FREE_PCT": "100"}, env_file=None)
    disk = DiskBudget(settings)
    await disk.refresh()
    assert not disk.room and disk.free_pct < 100
