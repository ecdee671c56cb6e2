"""Alerts from the other processes (`AlertRaised` on the telemetry channel), passed to the admins
through `core.alerts`: its cooldown per kind, one outbox row per admin (the uploader sends them).

A process that has no outbox of its own (a downloader, which may run on another host) raises its
alerts here. A "resolved" alert is its own kind, so that the cooldown of the problem does not hold
back the news that it is over.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlite_utils

from core.alerts import alert
from core.config import Settings
from core.db import open_db
from ipc.messages import AlertRaised

log = logging.getLogger("monitor.alerts_in")


class AlertsIn:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: sqlite_utils.Database | None = None  # opened at the first alert

    def handle(self, msg: AlertRaised) -> bool:
        """Queue the admins' messages unless the kind is in its cooldown; True if queued."""
        if self._db is None:
            self._db = open_db(self.settings.db_path, busy_timeout=self.settings.db_busy_timeout)
        kind = f"{msg.kind}:resolved" if msg.resolved else msg.kind
        log.info("alert %s from %s", kind, msg.name)
        try:
            values: dict[str, Any] = dict(msg.values)
            return alert(self._db, self.settings, kind, msg.text_key, **values)
        except KeyError:
            log.error("alert %s from %s names no text %r; dropped", kind, msg.name, msg.text_key)
            return False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
