"""The uploader's housekeeping on a real SQLite file: broadcast deliveries are pruned once their
broadcast has ended more than OUTBOX_KEEP_DAYS ago, beside the outbox's own prune."""

from __future__ import annotations

import logging
import time

import pytest
import trio

from core import outbox
from core.broadcasts import prune_deliveries
from core.config import load_settings
from core.db import open_db
from core.payloads import Copy, Text, encode_payload
from uploader.main import _housekeeping

DAY = 86400.0
ADMIN = 42
USERS = range(1, 6)


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"DATA_DIR": str(tmp_path / "data"), "OUTBOX_KEEP_DAYS": "7"}, env_file=None)


@pytest.fixture
def db(settings):
    settings.data_dir.mkdir(parents=True)
    db = open_db(settings.db_path, busy_timeout=5)
    for user_id in [ADMIN, *USERS]:
        db.execute("INSERT INTO users (id, language, joined_at, last_seen_at) VALUES (?, 'en', 0, 0)", [user_id])
    yield db
    db.close()


def broadcast(db, state: str, *, ended_days_ago: float | None, started_days_ago: float = 30.0) -> int:
    """A broadcast in `state` with one delivery row per user."""
    now = time.time()
    finished = None if ended_days_ago is None else now - ended_days_ago * DAY
    started = now - started_days_ago * DAY
    payload = encode_payload(Copy(from_chat_id=ADMIN, message_id=7))
    broadcast_id = int(
        db.execute(
            "INSERT INTO broadcasts (admin_id, payload, state, total, sent, created_at, started_at, finished_at,"
            " reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ADMIN, payload, state, len(USERS), len(USERS), started, started, finished, finished],
        ).lastrowid
    )
    for user_id in USERS:
        db.execute(
            "INSERT INTO broadcast_deliveries (broadcast_id, user_id, state, updated_at) VALUES (?, ?, 'sent', ?)",
            [broadcast_id, user_id, started],
        )
    return broadcast_id


def deliveries(db) -> dict[int, int]:
    rows = db.execute("SELECT broadcast_id, count(*) FROM broadcast_deliveries GROUP BY broadcast_id").fetchall()
    return dict(rows)


def test_only_broadcasts_that_ended_before_the_cutoff_lose_their_deliveries(db):
    old_done = broadcast(db, "done", ended_days_ago=8)
    old_cancelled = broadcast(db, "cancelled", ended_days_ago=7.01)
    recent = broadcast(db, "done", ended_days_ago=6.9)
    running = broadcast(db, "running", ended_days_ago=None, started_days_ago=40)
    paused = broadcast(db, "paused", ended_days_ago=None, started_days_ago=40)

    assert prune_deliveries(db, keep_days=7) == 2 * len(USERS)

    assert deliveries(db) == {recent: 5, running: 5, paused: 5}
    kept = db.execute("SELECT id, sent FROM broadcasts ORDER BY id").fetchall()
    assert kept == [(b, len(USERS)) for b in (old_done, old_cancelled, recent, running, paused)]  # counters stay
    assert prune_deliveries(db, keep_days=7) == 0


async def test_housekeeping_prunes_deliveries_beside_the_outbox(db, settings, caplog, autojump_clock):
    caplog.set_level(logging.INFO, logger="uploader")
    old = broadcast(db, "done", ended_days_ago=10)
    recent = broadcast(db, "cancelled", ended_days_ago=1)
    message = outbox.enqueue(db, ADMIN, Text(text="old news"))
    outbox.mark_sent(db, message, message_id=3)
    db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", [time.time() - 10 * DAY, message])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_housekeeping, settings, db)
        await trio.sleep(1)  # one pass; the next is SWEEP_INTERVAL away
        nursery.cancel_scope.cancel()

    assert deliveries(db) == {recent: 5} and old not in deliveries(db)
    assert db.execute("SELECT count(*) FROM outbox WHERE id = ?", [message]).fetchone()[0] == 0
    logged = [r.getMessage() for r in caplog.records]
    assert any("pruned 5 deliveries of broadcasts that ended more than 7 days ago" in m for m in logged), logged
