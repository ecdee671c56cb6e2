"""The monitor's side of the one alert mechanism (core.alerts): findings of its rules and alerts
other processes publish (`AlertRaised`) become the admins' messages, a "resolved" one when they
clear, and held-back alerts go out once their cooldown is over."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core import alerts
from core.config import Settings
from core.db import Database
from ipc.messages import ActiveAlert, AlertRaised
from monitor.rules import Finding

log = logging.getLogger("monitor.alerts")


class AlertBook:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.changed: Callable[[], None] = lambda: None  # called when rows were queued (the fallback looks)

    def active(self) -> list[ActiveAlert]:
        return alerts.active(self.db)

    def apply(self, findings: list[Finding]) -> None:
        """Raise the kinds that began to fire, resolve the active ones that cleared."""
        if not findings:
            return
        active = {a.kind for a in self.active()}
        queued = False
        for f in findings:
            if f.firing and f.kind not in active:
                queued |= alerts.alert(self.db, self.settings, f.kind, f.text_key, f.values, now=self.clock())
            elif not f.firing and f.kind in active:
                queued |= alerts.resolve(self.db, self.settings, f.kind, f.text_key, f.values)
        if queued:
            self.changed()

    def received(self, msg: AlertRaised) -> None:
        """An alert another process published (it holds no database of its own)."""
        values = alerts.typed_values(msg.values)
        if msg.resolved:
            queued = alerts.resolve(self.db, self.settings, msg.kind, msg.text_key, values)
        else:
            queued = alerts.alert(self.db, self.settings, msg.kind, msg.text_key, values, now=self.clock())
        if queued:
            self.changed()

    def send_held(self) -> None:
        if alerts.send_held(self.db, self.settings, now=self.clock()):
            self.changed()
