"""Alerts from the supervisor to the admins, through core.alerts (the uploader sends them)."""

from __future__ import annotations

import logging

from core.config import Settings
from core.supervisor.supervisor import AlertFn

log = logging.getLogger("supervisor")


def admin_alerter(settings: Settings) -> AlertFn:
    def crash_loop(kind: str, reason: str) -> None:
        if not settings.admin_ids:  # say so without opening the database
            log.warning("no ADMIN_IDS set: alert not sent: %s", reason)
            return
        # The supervisor holds no connection of its own: it opens one for the rare alert (and imports
        # the database's modules only then: 5 MB it need not hold).
        from core.alerts import alert
        from core.db import open_db

        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        try:
            alert(db, settings, f"crash_loop:{kind}", "alert_crash_loop", kind=kind, reason=reason)
        finally:
            db.close()

    return crash_loop
