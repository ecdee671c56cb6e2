"""Circuit breakers, the pure part: one platform's breaker as a decision on a scripted history,
and the mirror the gateway keeps of every downloader's breakers for the admins' /circuit.

The rules (when a breaker opens, lets one job through, closes) are told in `downloader/circuit.py`,
whose `SharedCircuits` keeps the breakers of one host's downloaders in their own database and
reports every change to the gateway (`ipc.messages.BreakerState`); the gateway writes it here
(`mirror`), in its own `circuits` table, and `/circuit` reads it (`states`).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import msgspec
import sqlite_utils

from core.config import Settings
from core.failures import ErrorClass, Failure
from ipc.messages import BreakerState

__all__ = ["Admission", "Breaker", "CircuitView", "State", "Transition", "Verdict", "mirror", "states", "views"]

_COLUMNS = "state, failures, opened_at, probe_job"


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


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


def states(db: sqlite_utils.Database, settings: Settings, *, now: float | None = None) -> list[CircuitView]:
    """Every breaker that ever counted a failure (closed ones too), for the admin panel's /circuit."""
    return views(db, settings.circuit_recovery, time.time() if now is None else now)


def views(db: sqlite_utils.Database, recovery: float, now: float) -> list[CircuitView]:
    views = []
    for platform, state, failures, opened_at, probe_job in db.execute(
        f"SELECT platform, {_COLUMNS} FROM circuits ORDER BY platform"
    ).fetchall():
        breaker = Breaker(1, recovery, State(state), failures, opened_at, probe_job)
        views.append(CircuitView(platform, breaker.state, failures, opened_at, probe_job, breaker.retry_in(now)))
    return views


def mirror(db: sqlite_utils.Database, report: BreakerState) -> bool:
    """Keep a downloader's breaker as it reported it (newer reports win); True if it changed."""
    if report.state not in State.__members__.values():
        return False
    moved = db.execute(
        f"INSERT INTO circuits (platform, {_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform) DO UPDATE SET state = excluded.state, failures = excluded.failures,"
        " opened_at = excluded.opened_at, probe_job = excluded.probe_job, updated_at = excluded.updated_at"
        " WHERE excluded.updated_at >= circuits.updated_at",
        [report.platform, report.state, max(0, report.failures), report.opened_at, report.probe_job, report.updated_at],
    ).rowcount
    return bool(moved)
