"""Transactions: write_tx commits or rolls back, nests, takes the lock up front, waits for the busy timeout."""

from __future__ import annotations

import sqlite3
import time

import pytest
import trio

from core.db import open_db, write_tx
from tests.db.helpers import NOW, add_job


def add_user(conn: sqlite3.Connection, user_id: int) -> None:
    conn.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (?, ?, ?)", [user_id, NOW, NOW])


def test_a_held_write_lock_makes_write_tx_wait_for_the_busy_timeout(tmp_path):
    path = tmp_path / "bot.sqlite3"
    db = open_db(path, busy_timeout=0.5)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock and never lets go
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"), write_tx(db):
            add_user(db.conn, 1)
        waited = time.monotonic() - started
        assert 0.4 <= waited < 5, f"waited {waited:.2f} s for a 0.5 s busy timeout"
        assert not db.conn.in_transaction
        other.execute("ROLLBACK")
        with write_tx(db):  # once the lock is free, the same write goes through
            add_user(db.conn, 1)
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    finally:
        other.close()
        db.close()


def test_a_deferred_read_then_write_fails_at_once_despite_the_busy_timeout(tmp_path):
    """The trap write_tx avoids: upgrading a read transaction after someone else committed."""
    path = tmp_path / "bot.sqlite3"
    db = open_db(path, busy_timeout=5.0)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        db.conn.execute("BEGIN")  # deferred, as `with db.conn:` or a plain BEGIN would be
        db.conn.execute("SELECT count(*) FROM users").fetchone()  # now a reader, on a snapshot
        add_user(other, 1)  # another process commits a write
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            add_user(db.conn, 2)
        assert time.monotonic() - started < 1.0, "SQLITE_BUSY came after waiting; expected at once"
        db.conn.execute("ROLLBACK")
        # The same sequence inside write_tx is fine: the lock is taken before the read.
        with write_tx(db):
            count = db.execute("SELECT count(*) FROM users").fetchone()[0]
            add_user(db.conn, 2 + count)
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 2
    finally:
        other.close()
        db.close()


def test_write_tx_rolls_back_on_error_and_nests_as_a_savepoint(db):
    with pytest.raises(ZeroDivisionError), write_tx(db):
        add_job(db)
        1 / 0  # noqa: B018
    assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0

    with write_tx(db):
        outer = add_job(db)
        with pytest.raises(sqlite3.IntegrityError), write_tx(db):
            add_job(db)
            add_job(db, state="lost")  # fails: only this inner block is undone
        with write_tx(db):
            inner = add_job(db)
    ids = [r[0] for r in db.execute("SELECT id FROM jobs ORDER BY id").fetchall()]
    assert ids == [outer, inner]
    assert not db.conn.in_transaction


async def test_write_tx_refuses_to_join_another_tasks_open_transaction(db):
    """An await inside write_tx must not let a second trio task write into the first one's transaction."""
    holding, release = trio.Event(), trio.Event()
    refused: list[str] = []

    async def careless() -> None:
        with write_tx(db):
            add_job(db)
            holding.set()
            await release.wait()  # the mistake: awaiting with the transaction open

    async def other() -> None:
        await holding.wait()
        try:
            with write_tx(db):
                add_job(db)
        except RuntimeError as exc:
            refused.append(str(exc))
        release.set()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(careless)
            nursery.start_soon(other)
    assert refused and "another task" in refused[0]
    assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1  # only the careless task's job
    with write_tx(db):  # and the connection is usable again afterwards
        add_job(db)
