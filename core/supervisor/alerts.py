"""Alerts from the supervisor to the admins, through the outbox (the uploader sends them)."""

from __future__ import annotations

import logging

from core import outbox
from core.config import Settings
from core.db import open_db, write_tx
from core.payloads import Text
from core.supervisor.supervisor import AlertFn
from core.texts import text

log = logging.getLogger("supervisor")


def admin_alerter(settings: Settings) -> AlertFn:
    def alert(kind: str, reason: str) -> None:
        if not settings.admin_ids:
            log.warning("no ADMIN_IDS set: alert not sent: %s", reason)
            return
        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        try:
            with write_tx(db):
                for admin in settings.admin_ids:
                    body = text(settings.default_language, "alert_crash_loop", kind=kind, reason=reason)
                    outbox.enqueue(
                        db, admin, Text(text=body, html=False), priority=outbox.PRIORITY_ALERT, role=outbox.ROLE_ALERT
                    )
        finally:
            db.close()
        log.info("alerted %d admin(s): %s", len(settings.admin_ids), reason)

    return alert
