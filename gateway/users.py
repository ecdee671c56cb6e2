"""The user behind an update: one row per person, read once and written once per message."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlite_utils

from core.config import Settings
from core.logs import uid
from core.telegram import User
from core.texts import language_for

log = logging.getLogger("gateway.users")


@dataclass(frozen=True)
class UserRow:
    id: int
    lang: str
    default_format: str
    audio_format: str
    banned: bool
    is_admin: bool


def remember(
    db: sqlite_utils.Database, settings: Settings, user: User, message_id: int | None = None
) -> UserRow | None:
    """Insert or refresh the user's row; call inside the update's transaction.

    `message_id` is the private message being handled: message ids grow within a chat, so one at
    or below the last handled is a repeat (updates are confirmed after their effects commit, and a
    crash in between delivers them again); then None is returned and nothing is written.
    """
    row = db.execute(
        "SELECT language, last_message_id, default_format, audio_format, banned FROM users WHERE id = ?", [user.id]
    ).fetchone()
    if row is not None and message_id is not None and message_id <= row[1]:
        log.info("message %d of user %s was handled before a restart; skipped", message_id, uid(user.id))
        return None
    now = time.time()
    lang = (row[0] if row is not None else None) or language_for(user.language_code, settings.default_language)
    last = message_id if message_id is not None else (row[1] if row is not None else 0)
    db.execute(
        "INSERT INTO users (id, first_name, username, language, joined_at, last_seen_at, last_message_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name,"
        " username = excluded.username, language = excluded.language, last_seen_at = excluded.last_seen_at,"
        " last_message_id = excluded.last_message_id, blocked_bot = 0",  # one who writes has not blocked us
        [user.id, user.first_name, user.username, lang, now, now, last],
    )
    if row is not None and message_id is not None:
        db.execute("UPDATE users SET requests_total = requests_total + 1 WHERE id = ?", [user.id])
    return UserRow(
        id=user.id,
        lang=lang,
        default_format=row[2] if row is not None else "ask",
        audio_format=(row[3] if row is not None else None) or settings.audio_format,
        banned=bool(row[4]) if row is not None else False,
        is_admin=user.id in settings.admin_ids,
    )
