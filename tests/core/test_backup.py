"""Backups with SQLite's online backup API while another connection writes, and restores (never
under a running bot), through `python run.py backup` / `restore` as an operator types them."""

from __future__ import annotations

import fcntl
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import backup
from core.config import load_settings
from core.db import open_db

ROOT = Path(__file__).resolve().parents[2]
BATCH = 7  # rows per write transaction: a consistent copy holds whole batches only
WRITE_DEADLINE = 30.0


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"DATA_DIR": str(tmp_path / "data"), "BACKUP_KEEP": "3"}, env_file=None)


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def integrity(path: Path) -> list[tuple[str]]:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchall()


class Writer(threading.Thread):
    """Another process's connection, inserting users in transactions of BATCH rows."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.stop = threading.Event()
        self.batches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        db = open_db(self.settings.db_path, busy_timeout=10)
        try:
            next_id = 1_000_000
            while not self.stop.is_set():
                with db.conn:
                    db.conn.execute("BEGIN IMMEDIATE")
                    for _ in range(BATCH):
                        db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (?, 1, 1)", [next_id])
                        next_id += 1
                self.batches += 1
        except BaseException as exc:
            self.error = exc
        finally:
            db.close()


def test_a_backup_taken_during_writes_is_whole_and_a_restore_brings_it_back(settings):
    db = open_db(settings.db_path, busy_timeout=10)
    for user_id in range(1, 501):
        db.execute("INSERT INTO users (id, language, joined_at, last_seen_at) VALUES (?, 'fa', 1, 1)", [user_id])
    db.execute("INSERT INTO settings (key, value, updated_at) VALUES ('maintenance', '\"on\"', 1)")
    db.close()

    writer = Writer(settings)
    writer.start()
    try:
        deadline = time.monotonic() + WRITE_DEADLINE
        while writer.batches < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = writer.batches
        during = backup.backup(settings)
        after = writer.batches
    finally:
        writer.stop.set()
        writer.join(WRITE_DEADLINE)
    assert writer.error is None and before >= 20 and after > before, (before, after, writer.error)

    assert integrity(during) == [("ok",)]
    users = counts(during)["users"]
    assert (users - 500) % BATCH == 0 and 500 + before * BATCH <= users <= 500 + after * BATCH
    assert not list(settings.backup_dir.glob("*.tmp"))

    quiet = backup.backup(settings)  # no writer now: exactly the live counts
    assert integrity(quiet) == [("ok",)] and counts(quiet) == counts(settings.db_path)

    live = sqlite3.connect(settings.db_path)
    live.execute("DELETE FROM users WHERE id > 100")
    live.commit()
    live.close()
    kept = backup.restore(settings, during)
    assert counts(settings.db_path) == counts(during) and integrity(settings.db_path) == [("ok",)]
    assert kept is not None and counts(kept)["users"] == 100  # what the restore replaced is kept

    for _ in range(3):
        backup.backup(settings)
    assert len(backup.backups(settings)) == 3  # BACKUP_KEEP


def test_restore_refuses_while_the_bot_runs(settings):
    db = open_db(settings.db_path, busy_timeout=10)
    db.close()
    made = backup.backup(settings)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with settings.run_lock_path.open("a+") as lock:  # what a running supervisor holds
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4321")
        lock.flush()
        with pytest.raises(backup.BotRunning, match="pid 4321"):
            backup.restore(settings, made)
        assert backup.command(["restore", "--data-dir", str(settings.data_dir), str(made)]) == 1
    assert backup.restore(settings, made) is not None


def test_restore_refuses_while_a_process_run_alone_has_the_database_open(settings):
    db = open_db(settings.db_path, busy_timeout=10)
    db.close()
    made = backup.backup(settings)
    code = (
        f"import sqlite3, time; c = sqlite3.connect({str(settings.db_path)!r}); print('open', flush=True);"
        " time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(backup.BotRunning, match=f"process {holder.pid}"):
            backup.restore(settings, made)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert backup.restore(settings, made) is not None


def test_restore_refuses_a_file_that_is_no_database(settings, tmp_path):
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_bytes(b"not a database at all" * 100)
    with pytest.raises(backup.BackupError, match="not a usable SQLite database"):
        backup.restore(settings, bogus)


def test_run_py_backup_and_restore_from_the_command_line(settings, tmp_path):
    db = open_db(settings.db_path, busy_timeout=10)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (7, 1, 1)")
    db.close()
    run = [sys.executable, str(ROOT / "run.py")]
    made = subprocess.run([*run, "backup", "--data-dir", str(settings.data_dir)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.split("backed up to ", 1)[1].strip())
    assert path.parent == settings.backup_dir and counts(path)["users"] == 1
    restored = subprocess.run([*run, "restore", "--data-dir", str(settings.data_dir), str(path)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert restored.returncode == 0 and "restored" in restored.stdout, restored.stderr
