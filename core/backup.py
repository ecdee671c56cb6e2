"""Backups of the database: `python run.py backup` and `python run.py restore FILE`.

A backup is SQLite's online backup API (consistent while other processes write: it copies one
snapshot), written beside its final name and renamed when complete and checked, into
DATA_DIR/backups as `bot-<UTC time>.sqlite3`; the newest BACKUP_KEEP are kept. The monitor makes
one every BACKUP_INTERVAL_H while the bot runs.

A restore refuses while the bot runs (it holds the supervisor's lock for the whole restore, so
the bot cannot start meanwhile, and no process may have the database open), checks the file,
keeps a backup of the database it replaces, and copies the file in through the same API. The next
start migrates it if it is older.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from core.config import Settings, SettingsError, load_settings, to_environ
from core.schema import LATEST_VERSION

__all__ = ["BackupError", "BotRunning", "backup", "backups", "command", "restore"]

log = logging.getLogger("backup")

PREFIX, SUFFIX, PARTIAL = "bot-", ".sqlite3", ".tmp"
BEFORE_RESTORE = "-before-restore"


class BackupError(Exception):
    """A backup or restore could not be done; the message says why, for the operator."""


class BotRunning(BackupError):
    pass


def backups(settings: Settings) -> list[Path]:
    """The backups in DATA_DIR/backups, oldest first."""
    folder = settings.backup_dir
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def backup(settings: Settings, *, label: str = "", now: float | None = None) -> Path:
    """Write a consistent copy of the live database into DATA_DIR/backups and keep the newest
    BACKUP_KEEP; returns its path."""
    if not settings.db_path.is_file():
        raise BackupError(f"no database at {settings.db_path}")
    folder = settings.backup_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    final = _free_name(folder, f"{PREFIX}{stamp}{label}")
    partial = final.with_name(final.name + PARTIAL)
    try:
        with closing(_connect(settings.db_path, settings)) as source, closing(sqlite3.connect(partial)) as target:
            source.backup(target)  # one step: one snapshot, whatever the others write meanwhile
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            _check(target, partial)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    for old in backups(settings)[: -settings.backup_keep]:
        old.unlink(missing_ok=True)
        log.info("removed old backup %s", old.name)
    log.info("database backed up to %s (%d bytes)", final, final.stat().st_size)
    return final


def restore(settings: Settings, file: Path) -> Path | None:
    """Replace the live database by the backup `file`; returns the backup made of the database it
    replaced (None when there was none). Raises BotRunning while the bot runs."""
    file = file.resolve()
    if not file.is_file():
        raise BackupError(f"no such file: {file}")
    with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as source:
        _check(source, file)
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        if version > LATEST_VERSION:
            raise BackupError(f"{file.name} has schema version {version}, newer than this bot's {LATEST_VERSION}")
        with _run_lock(settings):
            _refuse_if_open(settings.db_path)
            kept = backup(settings, label=BEFORE_RESTORE) if settings.db_path.is_file() else None
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
            with closing(_connect(settings.db_path, settings)) as target:
                source.backup(target)
    log.info("database restored from %s", file)
    return kept


def _connect(path: Path, settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=settings.db_busy_timeout)


def _check(db: sqlite3.Connection, path: Path) -> None:
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a usable SQLite database: {exc}") from None
    if result != [("ok",)]:
        raise BackupError(f"{path.name} failed SQLite's integrity check: {result[:3]}")


def _free_name(folder: Path, stem: str) -> Path:
    path, n = folder / f"{stem}{SUFFIX}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{SUFFIX}"
    return path


@contextmanager
def _run_lock(settings: Settings) -> Iterator[None]:
    """The supervisor's lock: held by a running bot, and by us while we restore."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with settings.run_lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            raise BotRunning(
                f"the bot is running (pid {owner}) with DATA_DIR={settings.data_dir}: stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _refuse_if_open(db_path: Path) -> None:
    """A process of the bot run alone (procfile) holds no supervisor lock: look for any process
    that has the database open."""
    import psutil

    wanted = {str(db_path.resolve()), f"{db_path.resolve()}-wal"}
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            holds = any(f.path in wanted for f in proc.open_files())
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if holds:
            raise BotRunning(f"process {proc.pid} ({proc.info['name']}) has {db_path.name} open: stop the bot first")


def command(argv: list[str]) -> int:
    """`run.py backup [--data-dir PATH]` and `run.py restore FILE [--data-dir PATH]`."""
    parser = argparse.ArgumentParser(prog="run.py", description="Back up or restore the bot's database.")
    sub = parser.add_subparsers(dest="action", required=True)
    for name, help_text in (("backup", "write a backup to DATA_DIR/backups"), ("restore", "restore a backup")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--data-dir", metavar="PATH", help="folder of the database (DATA_DIR)")
        if name == "restore":
            p.add_argument("file", type=Path, help="the backup to restore (a file in DATA_DIR/backups)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(overrides=to_environ({"DATA_DIR": args.data_dir}) if args.data_dir else None)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "backup":
            print(f"backed up to {backup(settings)}")
        else:
            kept = restore(settings, args.file)
            print(f"restored {args.file}" + (f"; the database it replaced is in {kept}" if kept else ""))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
