"""The outbox: every message the bot sends is first a row here, then the uploader sends it.

Whoever wants something sent (the gateway, the supervisor's alerts, later the downloaders)
inserts a row and pushes an `OutboxNotice`; the notice is only a hint, the row is the truth, and
the uploader also finds pending rows on its own (at start and when idle), so nothing is lost when
a notice is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.db import write_tx

# Lower sends first. A user's answer or status before a file, before an admin alert, before a
# progress edit (the first thing thinned when the budget is tight), before a broadcast, which only
# takes budget nobody else wants.
PRIORITY_ANSWER = 1
PRIORITY_FILE = 2
PRIORITY_ALERT = 3
PRIORITY_PROGRESS = 4
PRIORITY_BROADCAST = 5
PRIORITIES = (PRIORITY_ANSWER, PRIORITY_FILE, PRIORITY_ALERT, PRIORITY_PROGRESS, PRIORITY_BROADCAST)
PRIORITY_REPLY = PRIORITY_ANSWER  # the name the first path used


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    kind: str  # "text" for now; edits, media and callback answers come with their issues
    payload: dict[str, Any]
    priority: int
    attempts: int


def enqueue(
    db: sqlite_utils.Database,
    chat_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    priority: int = PRIORITY_REPLY,
    job_id: int | None = None,
) -> int:
    """Insert a pending row; call inside the caller's transaction when it belongs to one."""
    cursor = db.execute(
        "INSERT INTO outbox (chat_id, kind, payload, priority, state, attempts, not_before, created_at, job_id)"
        " VALUES (?, ?, ?, ?, 'pending', 0, 0, ?, ?)",
        [chat_id, kind, json.dumps(payload, ensure_ascii=False), priority, time.time(), job_id],
    )
    return int(cursor.lastrowid or 0)


def claim(db: sqlite_utils.Database, limit: int, now: float | None = None) -> list[OutboxItem]:
    """Take up to `limit` due rows, most urgent first, marking them 'sending'."""
    now = time.time() if now is None else now
    with write_tx(db):
        rows = db.execute(
            "SELECT id, chat_id, kind, payload, priority, attempts FROM outbox"
            " WHERE state = 'pending' AND not_before <= ? ORDER BY priority, id LIMIT ?",
            [now, limit],
        ).fetchall()
        if rows:
            marks = ",".join("?" * len(rows))
            db.execute(
                f"UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id IN ({marks})",
                [r[0] for r in rows],
            )
    return [OutboxItem(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5] + 1) for r in rows]


def mark_sent(db: sqlite_utils.Database, item_id: int, message_id: int | None = None) -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ? WHERE id = ?",
            [time.time(), message_id, item_id],
        )


def mark_failed(db: sqlite_utils.Database, item_id: int, error: str) -> None:
    with write_tx(db):
        db.execute("UPDATE outbox SET state = 'failed', error = ? WHERE id = ?", [error[:500], item_id])


def retry_later(db: sqlite_utils.Database, item_id: int, delay: float, error: str = "") -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'pending', not_before = ?, error = ? WHERE id = ?",
            [time.time() + delay, error[:500], item_id],
        )


def requeue_interrupted(db: sqlite_utils.Database) -> int:
    """At uploader start: rows left 'sending' by a crash go back to pending."""
    with write_tx(db):
        cursor = db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
    return cursor.rowcount
