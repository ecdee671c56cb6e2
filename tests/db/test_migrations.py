"""Opening the database: migrations from empty, re-applied, upgraded, refused when too new."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

import core.db
from core.db import DatabaseOpenError, SchemaTooNew, migrate, open_db, schema_version
from core.schema import LATEST_VERSION, MIGRATIONS, Migration, _check_numbering
from tests.db.helpers import NOW

TABLES = {
    "users",
    "jobs",
    "sponsors",
    "sponsor_users",
    "media_cache",
    "media_probes",
    "media_aliases",
    "broadcasts",
    "broadcast_deliveries",
    "settings",
    "admin_audit",
    "outbox",
    "user_marks",
    "held_links",
    "circuits",
    "alert_log",
    "cookie_files",
    "admin_steps",
}


def schema_sql(db) -> list[tuple[str, str]]:
    return db.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_database_gets_every_table_and_the_latest_version(tmp_path):
    path = tmp_path / "not" / "yet" / "there" / "bot.sqlite3"
    db = open_db(path, busy_timeout=2.5)
    try:
        assert path.is_file()
        assert set(db.table_names()) - {"sqlite_sequence"} == TABLES
        assert schema_version(db) == LATEST_VERSION == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()


def test_reopening_applies_nothing_and_keeps_the_data(tmp_path):
    path = tmp_path / "bot.sqlite3"
    db = open_db(path, busy_timeout=1)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (7, ?, ?)", [NOW, NOW])
    before = schema_sql(db)
    db.close()
    for _ in range(2):
        db = open_db(path, busy_timeout=1)
        try:
            assert schema_sql(db) == before
            assert schema_version(db) == LATEST_VERSION
            assert migrate(db) == 0
            assert db.execute("SELECT id FROM users").fetchall() == [(7,)]
        finally:
            db.close()


def test_a_newer_schema_is_refused_before_anything_is_touched(tmp_path):
    path = tmp_path / "bot.sqlite3"
    raw = sqlite3.connect(path)  # as a future version of the bot would leave it, still in rollback mode
    raw.execute("CREATE TABLE from_the_future (x INTEGER)")
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.commit()
    raw.close()
    before = digest(path)

    with pytest.raises(SchemaTooNew) as caught:
        open_db(path, busy_timeout=1)

    message = str(caught.value)
    assert str(path) in message
    assert f"schema version {LATEST_VERSION + 1}" in message and f"latest {LATEST_VERSION}" in message
    assert (caught.value.found, caught.value.known) == (LATEST_VERSION + 1, LATEST_VERSION)
    assert digest(path) == before
    assert not (tmp_path / "bot.sqlite3-wal").exists()  # not even switched to WAL
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    raw.close()


def test_a_file_that_is_not_a_database_is_refused_with_its_path(tmp_path):
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(DatabaseOpenError, match=str(path)) as caught:
        open_db(path, busy_timeout=1)
    assert "not a database" in str(caught.value)


def test_an_older_database_is_upgraded_in_order(tmp_path, monkeypatch):
    path = tmp_path / "bot.sqlite3"
    open_db(path, busy_timeout=1).close()
    newer = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "user notes", ("ALTER TABLE users ADD COLUMN note TEXT",)),
        Migration(LATEST_VERSION + 2, "index notes", ("CREATE INDEX users_note ON users (note)",)),
    )
    monkeypatch.setattr(core.db, "MIGRATIONS", newer)
    monkeypatch.setattr(core.db, "LATEST_VERSION", LATEST_VERSION + 2)
    db = open_db(path, busy_timeout=1)
    try:
        assert schema_version(db) == LATEST_VERSION + 2
        assert "note" in db["users"].columns_dict
        assert "users_note" in {i.name for i in db.table("users").indexes}
    finally:
        db.close()


def test_a_failing_migration_leaves_no_trace_and_the_version_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "bot.sqlite3"
    open_db(path, busy_timeout=1).close()
    broken = Migration(LATEST_VERSION + 1, "half good", ("CREATE TABLE half (x INTEGER)", "CREATE TABLE oops ("))
    monkeypatch.setattr(core.db, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(core.db, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError):
        open_db(path, busy_timeout=1)
    monkeypatch.undo()
    db = open_db(path, busy_timeout=1)
    try:
        assert schema_version(db) == LATEST_VERSION
        assert "half" not in db.table_names()
    finally:
        db.close()


def test_migration_numbers_must_run_one_two_three():
    assert _check_numbering(MIGRATIONS) == len(MIGRATIONS)
    gap = (*MIGRATIONS, Migration(LATEST_VERSION + 2, "skips one", ()))
    with pytest.raises(RuntimeError, match="skips one"):
        _check_numbering(gap)


def test_version_one_data_survives_the_pipeline_migration(tmp_path):
    """v2 rebuilds jobs and outbox: rows keep their ids and the outbox keeps pointing at its job."""
    path = tmp_path / "bot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA foreign_keys = ON")
    for statement in MIGRATIONS[0].statements:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    raw.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (1, ?, ?)", [NOW, NOW])
    raw.execute(
        "INSERT INTO jobs (id, user_id, chat_id, url, state, created_at, updated_at)"
        " VALUES (5, 1, 1, 'https://example.com/v', 'uploading', ?, ?)",
        [NOW, NOW],
    )
    raw.execute("INSERT INTO outbox (chat_id, kind, payload, created_at, job_id) VALUES (1, 'text', '{}', ?, 5)", [NOW])
    raw.commit()
    raw.close()
    db = open_db(path, busy_timeout=1)
    try:
        assert schema_version(db) == LATEST_VERSION
        assert db.execute("SELECT id, url, request_key, state FROM jobs").fetchall() == [
            (5, "https://example.com/v", "https://example.com/v", "uploading")
        ]
        assert db.execute("SELECT job_id FROM outbox").fetchall() == [(5,)]
        assert db.execute("SELECT default_format FROM users").fetchall() == [("ask",)]
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
