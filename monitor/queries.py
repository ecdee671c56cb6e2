"""What the monitor reads from the database: the queue, the users of the last day, the failure
rate and the oldest message waiting to be sent. Reads only; each is one indexed query."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.db import Database
from core.schema import JOB_ACTIVE_STATES

DAY = 86400.0
RUNNING_STATES = tuple(s for s in JOB_ACTIVE_STATES if s not in ("queued", "choosing"))


@dataclass(frozen=True)
class Figures:
    queued: int = 0
    running: int = 0
    active_users_24h: int = 0
    outbox_due: int = 0  # rows waiting to be sent whose time has come
    outbox_oldest_s: float = 0.0  # how long the oldest of them has waited


@dataclass(frozen=True)
class FailureRate:
    done: int
    failed: int

    @property
    def total(self) -> int:
        return self.done + self.failed

    @property
    def pct(self) -> float:
        return 100.0 * self.failed / self.total if self.total else 0.0


def figures(db: Database, now: float | None = None) -> Figures:
    now = time.time() if now is None else now
    queued, running = db.execute(
        f"SELECT total(state = 'queued'), total(state IN {RUNNING_STATES!r}) FROM jobs"
        f" WHERE state IN {JOB_ACTIVE_STATES!r}"
    ).fetchone()
    users = db.execute("SELECT count(*) FROM users WHERE last_seen_at >= ?", [now - DAY]).fetchone()[0]
    due, oldest = db.execute(
        "SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending' AND not_before <= ?", [now]
    ).fetchone()
    return Figures(
        queued=int(queued),
        running=int(running),
        active_users_24h=int(users),
        outbox_due=int(due),
        outbox_oldest_s=max(0.0, now - oldest) if oldest is not None else 0.0,
    )


def failure_rate(db: Database, window_s: float, now: float | None = None) -> FailureRate:
    """Jobs that ended done or failed within the last `window_s` (cancelled ones don't count)."""
    now = time.time() if now is None else now
    done, failed = db.execute(
        "SELECT total(state = 'done'), total(state = 'failed') FROM jobs WHERE finished_at >= ?", [now - window_s]
    ).fetchone()
    return FailureRate(int(done), int(failed))
