"""How much a user may ask: rate windows, notices at most once per interval, the queue caps, disk.

Per-user state lives in `user_marks` (one row per user and mark, with an expiry), so nothing is
lost on restart and the gateway holds no per-user memory. Each function here runs inside the
update's transaction. A mark is either a window (`rate`: `count` links since `at`, until
`expires_at`) or a notice (`notice:<kind>`: given at `at`, not again before `expires_at`).
The disk reading is the one thing cached in memory, for a few seconds, because it walks the spool.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils
import trio

from core import spool
from core.config import Settings
from core.jobstates import JobState, sql_is

log = logging.getLogger("gateway.limits")

RATE_WINDOW_S = 60.0  # USER_REQUESTS_PER_MIN and GLOBAL_REQUESTS_PER_MIN count links in this window
MARK_RATE = "rate"
MARK_GLOBAL_RATE = "rate:all"
EVERYONE = 0  # the user id the global window is kept under (no Telegram user has id 0)
DISK_CHECK_INTERVAL = 5.0  # seconds a reading of the spool and the free disk is trusted

_WINDOW = (
    "INSERT INTO user_marks (user_id, mark, at, count, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (user_id, mark) DO UPDATE SET"
    " at = CASE WHEN expires_at <= ?3 THEN ?3 ELSE at END,"
    " count = CASE WHEN expires_at <= ?3 THEN ?4 ELSE count + ?4 END,"
    " expires_at = CASE WHEN expires_at <= ?3 THEN ?5 ELSE expires_at END"
)


# ---- notices: at most once per interval ------------------------------------------------------


def notice_due(db: sqlite_utils.Database, user_id: int, kind: str, interval: float, now: float | None = None) -> bool:
    """True, and remembered, when the user has not had notice `kind` within `interval` seconds."""
    now = time.time() if now is None else now
    mark = f"notice:{kind}"
    row = db.execute("SELECT expires_at FROM user_marks WHERE user_id = ? AND mark = ?", [user_id, mark]).fetchone()
    if row is not None and row[0] > now:
        return False
    db.execute(
        "INSERT INTO user_marks (user_id, mark, at, count, expires_at) VALUES (?, ?, ?, 1, ?)"
        " ON CONFLICT (user_id, mark) DO UPDATE SET at = excluded.at, count = 1, expires_at = excluded.expires_at",
        [user_id, mark, now, now + interval],
    )
    return True


def forget_notice(db: sqlite_utils.Database, user_id: int, kind: str) -> None:
    db.execute("DELETE FROM user_marks WHERE user_id = ? AND mark = ?", [user_id, f"notice:{kind}"])


# ---- rate windows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    left: int  # links the window still takes
    resets_in: float  # seconds until the window starts afresh


def rate_room(db: sqlite_utils.Database, user_id: int, mark: str, limit: int, now: float | None = None) -> Room:
    now = time.time() if now is None else now
    row = db.execute(
        "SELECT count, expires_at FROM user_marks WHERE user_id = ? AND mark = ?", [user_id, mark]
    ).fetchone()
    if row is None or row[1] <= now:
        return Room(limit, RATE_WINDOW_S)
    return Room(max(0, limit - row[0]), row[1] - now)


def spend(db: sqlite_utils.Database, user_id: int, mark: str, count: int, now: float | None = None) -> None:
    """Count `count` links into the window (a fresh window starts when the last one is over)."""
    if count <= 0:
        return
    now = time.time() if now is None else now
    db.execute(_WINDOW, [user_id, mark, now, count, now + RATE_WINDOW_S])


def purge_marks(db: sqlite_utils.Database, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return db.execute("DELETE FROM user_marks WHERE expires_at <= ?", [now]).rowcount


# ---- the queue -----------------------------------------------------------------------------------


def waiting(db: sqlite_utils.Database) -> int:
    """Jobs waiting for a downloader (QUEUE_MAX counts these; running and choosing ones don't)."""
    return int(db.execute(f"SELECT count(*) FROM jobs WHERE state = {sql_is(JobState.QUEUED)}").fetchone()[0])


def waiting_for(db: sqlite_utils.Database, user_id: int) -> int:
    """One user's jobs waiting for a downloader (USER_QUEUE_MAX counts these)."""
    row = db.execute("SELECT count(*) FROM jobs WHERE user_id = ? AND state = 'queued'", [user_id]).fetchone()
    return int(row[0])


def download_slots(settings: Settings) -> int:
    """Downloads the workers run at once (one slot of each is kept for probes)."""
    return settings.workers * max(1, settings.download_slots_per_worker - 1)


# ---- the disk ------------------------------------------------------------------------------------


class DiskBudget:
    """Is there room for new jobs: the spool under SPOOL_MAX_GB and the disk above
    ALERT_DISK_FREE_PCT free. Measured in a thread at most every DISK_CHECK_INTERVAL seconds,
    before an update's transaction; read inside it for free."""

    def __init__(
        self, settings: Settings, interval: float = DISK_CHECK_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.clock = clock
        self.room = True
        self.measured_at = -math.inf
        self.used_bytes = 0
        self.free_pct = 100.0

    def stale(self) -> bool:
        return self.clock() - self.measured_at >= self.interval

    async def refresh(self) -> None:
        if self.stale():
            self.measured_at = self.clock()  # one measurement at a time, even if it is slow
            self.apply(*await trio.to_thread.run_sync(self.measure))

    def measure(self) -> tuple[int, float]:
        folder = self.settings.spool_dir
        used = spool.usage_bytes(folder) if folder.is_dir() else 0
        where = folder if folder.is_dir() else self.settings.data_dir
        try:
            free = spool.disk_free_pct(where)
        except OSError as exc:
            log.warning("could not read the free disk at %s (%s); assuming there is room", where, exc)
            free = 100.0
        return used, free

    def apply(self, used: int, free_pct: float) -> None:
        room = used <= spool.budget_bytes(self.settings) and free_pct >= self.settings.alert_disk_free_pct
        if room != self.room:
            log.warning(
                "new jobs %s: spool %.1f MiB of %.1f GiB, disk %.1f %% free",
                "accepted again" if room else "refused",
                used / 2**20,
                self.settings.spool_max_gb,
                free_pct,
            )
        self.room, self.used_bytes, self.free_pct = room, used, free_pct
