"""Crash loops, told to the admins: the monitor tells them of every kind it watches (it sees the
supervisor's table, and sends the alert itself while the uploader is the one down); the
supervisor tells them only of the monitor's own crash loop, through core.alerts."""

from __future__ import annotations

import logging

from core.config import Settings
from core.supervisor.supervisor import AlertFn

log = logging.getLogger("supervisor")

SELF_REPORTED = "monitor"  # the one kind that cannot report its own crash loop


def admin_alerter(settings: Settings) -> AlertFn:
    def crash_loop(kind: str, reason: str) -> None:
        if kind != SELF_REPORTED:
            log.info("%s crash-loops: the monitor tells the admins", kind)
            return
        if not settings.admin_ids:  # say so without opening the database
            log.warning("no ADMIN_IDS set: alert not sent: %s", reason)
            return
        # The supervisor holds no connection of its own: it opens one for the rare alert (and imports
        # the database's modules only then: 5 MB it need not hold).
        from core.alerts import alert, crash_loop_kind, crash_loop_values
        from core.db import open_db

        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        try:
            alert(db, settings, crash_loop_kind(kind), "alert_crash_loop", crash_loop_values(settings, kind, reason))
        finally:
            db.close()

    return crash_loop
