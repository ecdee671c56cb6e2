"""Small helpers shared by the database tests."""

from __future__ import annotations

NOW = 1_700_000_000.0  # a fixed timestamp: these tests are about storage, not clocks


def add_job(db, state: str = "queued", user_id: int = 1) -> int:
    cursor = db.execute(
        "INSERT INTO jobs (user_id, chat_id, url, request_key, state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [user_id, user_id, "https://example.com/v", "url:https://example.com/v", state, NOW, NOW],
    )
    return int(cursor.lastrowid)
