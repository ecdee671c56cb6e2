"""THE way to tell the admins something: one outbox row per admin, in the admin's language, at
most once per ALERT_COOLDOWN for each kind of alert.

Every alert goes through `alert()`: circuit breakers opening and closing, cookie files set aside, a
full disk, the supervisor's crash loops (and, later, the monitor's thresholds). The cooldown lives
in the `alert_log` table, so it holds across processes and restarts: several downloaders seeing
the same problem produce one message. `alert_log.count` counts how often the kind was raised since
it was last sent (1 at a send, +1 for each repeat swallowed by the cooldown).

The check, the outbox rows and the log row are one transaction; called inside the caller's own
`write_tx` it becomes part of it (a savepoint), so an alert about a state change commits or rolls
back with that change. The uploader sends the rows; a caller that got True may nudge it.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Protocol

import sqlite_utils

from core import outbox
from core.config import Settings
from core.db import write_tx
from core.payloads import Text
from core.texts import LANGUAGES, text

__all__ = ["Alerter", "alert", "alerter"]

log = logging.getLogger("alerts")


class Alerter(Protocol):
    """`alert()` with the database and settings already bound (what the parts are given)."""

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool: ...


def alert(
    db: sqlite_utils.Database,
    settings: Settings,
    kind: str,
    text_key: str,
    /,
    *,
    now: float | None = None,
    **values: object,
) -> bool:
    """Queue `text_key` (filled with `values`) for every admin unless `kind` was sent within the
    cooldown. True when rows were written. Never awaits: safe inside another `write_tx`."""
    if not settings.admin_ids:
        log.warning("no ADMIN_IDS set: alert %s not sent", kind)
        return False
    now = time.time() if now is None else now
    with write_tx(db):
        row = db.execute("SELECT last_at FROM alert_log WHERE kind = ?", [kind]).fetchone()
        if row is not None and now - row[0] < settings.alert_cooldown:
            db.execute("UPDATE alert_log SET count = count + 1 WHERE kind = ?", [kind])
            log.debug("alert %s held back: sent %.0fs ago", kind, now - row[0])
            return False
        languages = _languages(db, settings)
        for admin in settings.admin_ids:
            lang = languages.get(admin, settings.default_language)
            _enqueue_text(db, admin, _render(lang, text_key, values))
        db.execute(
            "INSERT INTO alert_log (kind, last_at, count) VALUES (?, ?, 1)"
            " ON CONFLICT (kind) DO UPDATE SET last_at = excluded.last_at, count = 1",
            [kind, now],
        )
    log.info("alert %s queued for %d admin(s)", kind, len(settings.admin_ids))
    return True


def alerter(db: sqlite_utils.Database, settings: Settings) -> Alerter:
    """`alert` bound to this process's database and settings."""
    return partial(alert, db, settings)


def _languages(db: sqlite_utils.Database, settings: Settings) -> dict[int, str]:
    """The language each admin chose (users.language); admins without one get DEFAULT_LANGUAGE."""
    marks = ",".join("?" * len(settings.admin_ids))
    rows = db.execute(
        f"SELECT id, language FROM users WHERE id IN ({marks}) AND language IS NOT NULL", list(settings.admin_ids)
    ).fetchall()
    return {user_id: lang for user_id, lang in rows if lang in LANGUAGES}


def _render(lang: str, text_key: str, values: dict[str, object]) -> str:
    return text(lang, text_key, **values)


def _enqueue_text(db: sqlite_utils.Database, chat_id: int, body: str) -> None:
    # Plain text (no HTML): alerts carry platform names, file names and raw errors.
    outbox.enqueue(db, chat_id, Text(text=body, html=False), priority=outbox.PRIORITY_ALERT, role=outbox.ROLE_ALERT)
