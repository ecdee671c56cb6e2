"""The send budget's FloodWait pauses, kept across uploader restarts in the `settings` table.

Telegram's FloodWait holds for its seconds whoever asks: an uploader that dies while paused and
starts again must wait out the rest, not send at once and earn a longer one. So each time the
budget's pauses change (`SendBudget.on_flood`) they are written here, as wall-clock ends (the
trio clock starts anew in each process), and a new uploader reads them back at start and hands
them to `SendBudget.resume`, which also assumes the rest of the worst (see `uploader.throttle`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable

import sqlite_utils

from core.db import write_tx
from uploader.throttle import Pauses

log = logging.getLogger("uploader.budget")

SETTING_KEY = "send_budget_pauses"  # {"until": wall-clock end of the bot's pause, "chats": {id: end}}

Clock = Callable[[], float]


def save(db: sqlite_utils.Database, pauses: Pauses, wall: Clock = time.time) -> None:
    """Record the pauses in force (only those: an ended one is dropped)."""
    now = wall()
    value = {
        "until": now + pauses.everything if pauses.everything > 0 else 0.0,
        "chats": {str(chat_id): now + left for chat_id, left in pauses.chats.items() if left > 0},
    }
    try:
        with write_tx(db):
            db.execute(
                "INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, NULL, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [SETTING_KEY, json.dumps(value), now],
            )
    except sqlite3.Error as exc:  # the pause holds in this process all the same; only a restart forgets it
        log.error("could not record the FloodWait pauses (%s): a restart now would not know them", exc)


def load(db: sqlite_utils.Database, wall: Clock = time.time) -> Pauses:
    """The pauses a previous uploader left that still run, as seconds left."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    if row is None:
        return Pauses()
    try:
        value = json.loads(row[0])
        now = wall()
        chats = {int(chat_id): float(end) - now for chat_id, end in dict(value.get("chats") or {}).items()}
        return Pauses(max(0.0, float(value.get("until") or 0.0) - now), {c: s for c, s in chats.items() if s > 0})
    except (TypeError, ValueError, AttributeError) as exc:
        log.error("the recorded FloodWait pauses are unreadable (%s); starting without them", exc)
        return Pauses()
