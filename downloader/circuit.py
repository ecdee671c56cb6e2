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

`Breaker` is the pure decision (no clock, no I/O), tested on scripted histories. `SharedCircuits`
keeps every platform's breaker in the `circuits` table, each decision one read-modify-write
transaction, so all downloader processes see one state; the alert to the admins is written in the
same transaction as the transition, so exactly one process alerts, once.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec
import sqlite_utils

from core import metrics
from core.alerts import Alerter, alerter
from core.config import Settings
from core.db import write_tx
from downloader.errors import ErrorClass, Failure

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


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


BREAKER_LEVELS = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}  # the breaker_state metric


class Verdict(enum.StrEnum):
    ALLOWED = "allowed"
    PROBE = "probe"  # half open: this job is the one let through
    REFUSED = "refused"


class Transition(enum.StrEnum):
    OPENED = "opened"  # closed -> open: admins are alerted
    REOPENED = "reopened"  # the probe failed: open again (no new alert: it never closed)
    CLOSED = "closed"  # half open -> closed: admins are alerted


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    retry_in: float = 0.0  # refused: seconds until a probe may go through

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.REFUSED

    def failure(self, platform: str) -> Failure:
        """The job's failure when refused: `unavailable`, with the wait for the user's text."""
        return Failure(ErrorClass.UNAVAILABLE, f"circuit of {platform} is open", retry_after=self.retry_in)


@dataclass
class Breaker:
    """One platform's breaker; `admit` and `record` take the time, so histories can be scripted."""

    threshold: int  # platform failures in a row that open it
    recovery: float  # seconds it stays open; also how long a probe slot lasts
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float | None = None
    probe_job: int | None = None

    def admit(self, job_id: int, now: float) -> Admission:
        if self.state is State.CLOSED:
            return Admission(Verdict.ALLOWED)
        if self.state is State.OPEN:
            wait = self._until(now)
            if wait > 0:
                return Admission(Verdict.REFUSED, wait)
            self._give_probe(job_id, now)
            return Admission(Verdict.PROBE)
        if self.probe_job == job_id:  # the probe, dispatched again
            return Admission(Verdict.PROBE)
        wait = self._until(now)
        if self.probe_job is None or wait <= 0:  # the slot is free, or its holder went silent
            self._give_probe(job_id, now)
            return Admission(Verdict.PROBE)
        return Admission(Verdict.REFUSED, wait)

    def record(self, job_id: int, failure: Failure | None, now: float) -> Transition | None:
        """A job ended: `failure` None for a success. Returns the state change it caused, if any."""
        platform_fault = failure is not None and failure.platform_fault
        if self.state is State.CLOSED:
            if failure is None:
                self.failures = 0
            elif platform_fault:
                self.failures += 1
                if self.failures >= self.threshold:
                    self._open(now)
                    return Transition.OPENED
            return None
        if self.state is State.OPEN:
            return None
        if failure is None:
            self.state, self.failures, self.opened_at, self.probe_job = State.CLOSED, 0, None, None
            return Transition.CLOSED
        if job_id != self.probe_job:
            return None
        if platform_fault:
            self.failures += 1
            self._open(now)
            return Transition.REOPENED
        self.probe_job = None  # the probe told us nothing: the next job probes
        return None

    def retry_in(self, now: float) -> float | None:
        """Seconds until a new job may go through (None: it may now)."""
        if self.state is State.CLOSED:
            return None
        if self.state is State.HALF_OPEN and self.probe_job is None:
            return None
        wait = self._until(now)
        return wait if wait > 0 else None

    def _until(self, now: float) -> float:
        assert self.opened_at is not None
        return self.opened_at + self.recovery - now

    def _open(self, now: float) -> None:
        self.state, self.opened_at, self.probe_job = State.OPEN, now, None

    def _give_probe(self, job_id: int, now: float) -> None:
        self.state, self.opened_at, self.probe_job = State.HALF_OPEN, now, job_id


class CircuitView(msgspec.Struct, frozen=True):
    """One line of the admin panel's /circuit."""

    platform: str
    state: State
    failures: int
    opened_at: float | None
    probe_job: int | None
    retry_in: float | None  # seconds until a job may go through; None when one may now


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
    """Every platform's breaker, in the database, shared by all downloader processes."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        settings: Settings,
        *,
        alert: Alerter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.threshold = settings.circuit_failures
        self.recovery = settings.circuit_recovery
        self.alert = alert if alert is not None else alerter(db, settings)
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
            if breaker != before:
                self._save(platform, breaker)
                log.info("circuit %s half open: job %d is the probe", platform, job_id)
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
            if breaker != before:
                self._save(platform, breaker)
            if transition is not None:
                self._announce(platform, job_id, transition, breaker, failure)
        return transition

    def states(self) -> list[CircuitView]:
        return _views(self.db, self.recovery, self.clock())

    def _load(self, platform: str) -> Breaker:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM circuits WHERE platform = ?", [platform]).fetchone()
        if row is None:
            return Breaker(self.threshold, self.recovery)
        return Breaker(self.threshold, self.recovery, State(row[0]), row[1], row[2], row[3])

    def _save(self, platform: str, b: Breaker) -> None:
        self.db.execute(
            f"INSERT INTO circuits (platform, {_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (platform) DO UPDATE SET state = excluded.state, failures = excluded.failures,"
            " opened_at = excluded.opened_at, probe_job = excluded.probe_job, updated_at = excluded.updated_at",
            [platform, str(b.state), b.failures, b.opened_at, b.probe_job, self.clock()],
        )
        metrics.gauge("breaker_state", BREAKER_LEVELS[b.state], platform=platform)

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


def states(db: sqlite_utils.Database, settings: Settings, *, now: float | None = None) -> list[CircuitView]:
    """Every breaker that ever counted a failure (closed ones too), for the admin panel's /circuit."""
    return _views(db, settings.circuit_recovery, time.time() if now is None else now)


def _views(db: sqlite_utils.Database, recovery: float, now: float) -> list[CircuitView]:
    views = []
    for platform, state, failures, opened_at, probe_job in db.execute(
        f"SELECT platform, {_COLUMNS} FROM circuits ORDER BY platform"
    ).fetchall():
        breaker = Breaker(1, recovery, State(state), failures, opened_at, probe_job)
        views.append(CircuitView(platform, breaker.state, failures, opened_at, probe_job, breaker.retry_in(now)))
    return views
