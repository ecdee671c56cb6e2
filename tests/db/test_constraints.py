"""Bad data is refused by the database itself: CHECK constraints, foreign keys, STRICT types."""

from __future__ import annotations

import sqlite3

import pytest

from tests.db.helpers import add_job


def test_a_bad_job_state_is_refused_on_insert_and_on_update(db):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        add_job(db, state="lost")
    job = add_job(db)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        db.execute("UPDATE jobs SET state = 'paused' WHERE id = ?", [job])
    for state in ("probing", "choosing", "downloading", "uploading", "queued"):
        db.execute("UPDATE jobs SET state = ? WHERE id = ?", [state, job])
    db.execute("UPDATE jobs SET state = 'cancelled', finished_at = 1 WHERE id = ?", [job])
    assert db.execute("SELECT state FROM jobs WHERE id = ?", [job]).fetchone() == ("cancelled",)
    assert not db.conn.in_transaction  # a refused statement leaves no transaction open behind it


def test_a_final_state_has_its_finished_at_and_never_changes(db):
    job = add_job(db)
    with pytest.raises(sqlite3.IntegrityError, match="needs finished_at"):
        db.execute("UPDATE jobs SET state = 'done' WHERE id = ?", [job])
    with pytest.raises(sqlite3.IntegrityError, match="needs finished_at"):
        add_job(db, state="failed")
    db.execute("UPDATE jobs SET state = 'done', finished_at = 1 WHERE id = ?", [job])
    for state in ("queued", "failed", "cancelled"):
        with pytest.raises(sqlite3.IntegrityError, match="never moves"):
            db.execute("UPDATE jobs SET state = ? WHERE id = ?", [state, job])
    with pytest.raises(sqlite3.IntegrityError, match="needs finished_at"):
        db.execute("UPDATE jobs SET finished_at = NULL WHERE id = ?", [job])
    db.execute("UPDATE jobs SET title = 'still editable' WHERE id = ?", [job])  # only its state is frozen
    assert db.execute("SELECT state, title FROM jobs WHERE id = ?", [job]).fetchone() == ("done", "still editable")


def test_other_constraints_hold(db):
    job = add_job(db)
    bad = [
        ("INSERT INTO outbox (chat_id, kind, payload, state, created_at) VALUES (1, 'text', '{}', 'lost', 0)"),
        ("INSERT INTO outbox (chat_id, kind, payload, created_at) VALUES (1, 'text', 'not json', 0)"),
        (f"UPDATE jobs SET attempts = -1 WHERE id = {job}"),
        ("INSERT INTO users (id, joined_at, last_seen_at, banned) VALUES (2, 0, 0, 2)"),
        ("INSERT INTO sponsors (title, created_at) VALUES ('neither id nor username', 0)"),
        ("INSERT INTO broadcasts (admin_id, payload, state, created_at) VALUES (1, '{}', 'lost', 0)"),
        ("INSERT INTO media_cache (media_key, format_key, file_id, kind, created_at) VALUES ('u', '', 'f', 'gif', 0)"),
        ("INSERT INTO circuits (platform, state, updated_at) VALUES ('Youtube', 'ajar', 0)"),
    ]
    for sql in bad:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            db.execute(sql)
    # foreign_keys is on: a job for a user who does not exist is refused
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
        add_job(db, user_id=999)
    # STRICT tables: a value of the wrong type is refused, not stored as text
    with pytest.raises(sqlite3.IntegrityError, match="cannot store TEXT value in INTEGER column"):
        db.execute("INSERT INTO outbox (chat_id, kind, payload, created_at) VALUES ('@someone', 'text', '{}', 0)")
    # one row per user and sponsor: a join is credited once
    sponsor = db.execute("INSERT INTO sponsors (username, created_at) VALUES ('chan', 0)").lastrowid
    db.execute(
        "INSERT INTO sponsor_users (sponsor_id, user_id, status, joined_at) VALUES (?, 1, 'joined', 0)", [sponsor]
    )
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed"):
        db.execute("INSERT INTO sponsor_users (sponsor_id, user_id, status) VALUES (?, 1, 'joined')", [sponsor])
