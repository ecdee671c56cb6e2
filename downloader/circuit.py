"""Circuit breakers, one per platform (yt-dlp's extractor key), shared by every downloader.

A breaker opens after CIRCUIT_FAILURES platform-side failures in a row (`Failure.platform_fault`:
rate limits, bot checks, network trouble, a broken extractor), stays open CIRCUIT_RECOVERY seconds
refusing new jobs ("temporarily unavailable, try again in about N minutes"), then lets exactly one
job through as a probe (half open). The probe's success closes it; its platform failure opens it
again for another CIRCUIT_RECOVERY.

Rules that are choices:
- The user's own mistakes (not found, private, too large, ...) neither count nor reset the count:
  they say nothing about the platform's health, and a run of bad links must neither pause a
  platform nor hide that it is broken.
- Half open: a success of any job closes (it proves the platform works). A failure of a job other
  than the probe changes nothing (it was admitted before the breaker opened). A probe that ends
  in a user mistake or is cancelled frees the slot for the next job, without closing.
- Open: results of jobs admitted before it opened change nothing; the recovery time is kept.
- A probe whose worker died must not wedge the breaker: the slot expires CIRCUIT_RECOVERY after it
  was given, and the next job becomes the probe. While half open, `opened_at` holds the time the
  probe was let through (the table has no column of its own for it).

`Breaker` (core/breakers.py) is the pure decision (no clock, no I/O), tested on scripted histories.
`SharedCircuits` keeps every platform's breaker in the `circuits` table of the downloaders' own
database (DATA_DIR/downloader.db, shared by the downloaders of one host), each decision one
read-modify-write transaction, so all of them see one state; exactly one process makes a
transition, and that one alerts the admins (once) and tells the gateway, which keeps a mirror for
the admins' /circuit (`on_change`, every change).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import sqlite_utils

from core import metrics
from core.alerts import Alerter
from core.breakers import Admission, Breaker, CircuitView, State, Transition, Verdict, states, views
from core.config import Settings
from core.db import write_tx
from core.failures import Failure
from ipc.messages import BreakerState

__all__ = [
    "Admission",
    "Breaker",
    "CircuitView",
    "SharedCircuits",
    "State",
    "Transition",
    "Verdict",
    "breaker_key",
    "states",
]

log = logging.getLogger("downloader.circuit")

GENERIC = "Generic"  # yt-dlp's catch-all extractor: one breaker per site instead (see breaker_key)
_ALERT_ERROR_MAX = 200  # characters of the last raw error quoted in the admins' alert
BREAKER_LEVELS = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}  # the breaker_state metric


def breaker_key(extractor_key: str, url: str) -> str:
    """The breaker to use: the extractor key, except that yt-dlp's Generic extractor, which serves
    every site it has no extractor for, gets one breaker per host ("Generic:example.com"), so that
    one dead site cannot pause all the others."""
    if extractor_key != GENERIC:
        return extractor_key
    host = (urlsplit(url).hostname or "").lower()
    return f"{GENERIC}:{host}" if host else GENERIC


_COLUMNS = "state, failures, opened_at, probe_job"


class SharedCircuits:
    """Every platform's breaker, in the downloaders' database, shared by the downloaders of a host."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        settings: Settings,
        *,
        alert: Alerter,
        on_change: Callable[[BreakerState], None] = lambda state: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.threshold = settings.circuit_failures
        self.recovery = settings.circuit_recovery
        self.alert = alert
        self.on_change = on_change  # told every saved change, after its commit (the gateway's mirror)
        self.clock = clock

    def admit(self, platform: str, job_id: int) -> Admission:
        """May `job_id` start on `platform` now? A closed breaker answers without a write."""
        current = self._load(platform)
        if current.state is State.CLOSED:
            return Admission(Verdict.ALLOWED)
        with write_tx(self.db):
            breaker = self._load(platform)
            before = dataclasses.replace(breaker)
            admission = breaker.admit(job_id, self.clock())
            saved = self._save(platform, breaker) if breaker != before else None
            if saved is not None:
                log.info("circuit %s half open: job %d is the probe", platform, job_id)
        self._tell(saved)
        return admission

    def record(self, platform: str, job_id: int, failure: Failure | None) -> Transition | None:
        """The outcome of a job on `platform` (None: success). Alerts the admins on open and close."""
        current = self._load(platform)
        if current.state is State.CLOSED and (
            (failure is None and current.failures == 0) or (failure is not None and not failure.platform_fault)
        ):
            return None  # nothing would change: no write
        with write_tx(self.db):
            breaker = self._load(platform)
            before = dataclasses.replace(breaker)
            now = self.clock()
            transition = breaker.record(job_id, failure, now)
            saved = self._save(platform, breaker) if breaker != before else None
            if transition is not None:
                self._announce(platform, job_id, transition, breaker, failure)
        self._tell(saved)
        return transition

    def states(self) -> list[CircuitView]:
        return views(self.db, self.recovery, self.clock())

    def snapshot(self) -> list[BreakerState]:
        """Every breaker as the gateway's mirror keeps it (sent whole when the gateway connects)."""
        rows = self.db.execute(f"SELECT platform, {_COLUMNS}, updated_at FROM circuits").fetchall()
        return [BreakerState(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def _tell(self, saved: BreakerState | None) -> None:
        if saved is None:
            return
        try:
            self.on_change(saved)
        except Exception:  # the mirror is news for the admins; the breaker itself stands
            log.exception("circuit %s: could not tell the gateway", saved.platform)

    def _load(self, platform: str) -> Breaker:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM circuits WHERE platform = ?", [platform]).fetchone()
        if row is None:
            return Breaker(self.threshold, self.recovery)
        return Breaker(self.threshold, self.recovery, State(row[0]), row[1], row[2], row[3])

    def _save(self, platform: str, b: Breaker) -> BreakerState:
        now = self.clock()
        self.db.execute(
            f"INSERT INTO circuits (platform, {_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (platform) DO UPDATE SET state = excluded.state, failures = excluded.failures,"
            " opened_at = excluded.opened_at, probe_job = excluded.probe_job, updated_at = excluded.updated_at",
            [platform, str(b.state), b.failures, b.opened_at, b.probe_job, now],
        )
        metrics.gauge("breaker_state", BREAKER_LEVELS[b.state], platform=platform)
        return BreakerState(platform, str(b.state), b.failures, b.opened_at, b.probe_job, now)

    def _announce(
        self, platform: str, job_id: int, transition: Transition, b: Breaker, failure: Failure | None
    ) -> None:
        """Log the transition and, on open and close, alert (inside the transaction that made it)."""
        if transition is Transition.OPENED:
            assert failure is not None
            log.warning(
                "circuit %s opened after %d platform failures in a row (job %d: %s)",
                platform,
                b.failures,
                job_id,
                failure.cls,
            )
            kind, key = f"breaker:{platform}", "alert_circuit_open"
            values: dict[str, object] = {
                "platform": platform,
                "failures": b.failures,
                "error": f"{failure.cls}: {failure.reason}"[:_ALERT_ERROR_MAX],
                "seconds": round(self.recovery),
            }
        elif transition is Transition.CLOSED:
            log.info("circuit %s closed: job %d went through", platform, job_id)
            kind, key, values = f"breaker:{platform}", "alert_circuit_closed", {"platform": platform}
        else:
            log.warning("circuit %s open again: the probe job %d failed", platform, job_id)
            return
        try:
            if transition is Transition.CLOSED:
                self.alert.resolve(kind, key, **values)
            else:
                self.alert(kind, key, **values)
        except Exception:  # the alert is news about the transition; it must not undo it
            log.exception("circuit %s: could not alert the admins", platform)
