"""When to restart a child, as data: back-off between restarts, and a cooldown for crash loops.

- Each child waits `core.backoff`'s delay before its restart: RESTART_MIN_DELAY, doubling up to
  RESTART_MAX_DELAY (no jitter: one child, nothing to spread). A run of RESTART_RESET_AFTER
  seconds or more starts the back-off over.
- A kind (all downloaders together) restarted more than CRASH_LOOP_RESTARTS times within
  CRASH_LOOP_WINDOW is crash-looping: the child that exits next rests CRASH_LOOP_COOLDOWN
  seconds, then is tried again with the count and its back-off started over. So a kind is never
  given up on for good: a crash that a later moment fixes (a network, a disk, a bad row that the
  uploader quarantines) ends with the kind running again, and meanwhile restarts stay rare.

Pure logic on timestamps, so that decisions are tested on scripted histories.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.backoff import Backoff
from core.config import Settings


@dataclass(frozen=True)
class RestartPolicy:
    backoff: Backoff  # delays before the restarts of one child
    reset_after: float  # a run at least this long resets the back-off
    max_restarts: int  # more restarts than this within `window` is a crash loop
    window: float
    cooldown: float  # the rest a crash-looping kind takes before it is tried again

    def __post_init__(self) -> None:
        if self.max_restarts < 1 or self.window <= 0 or self.cooldown <= 0:
            raise ValueError("max_restarts, window and cooldown must be positive")

    @classmethod
    def from_settings(cls, s: Settings) -> RestartPolicy:
        """The only way to build one: the RESTART_* and CRASH_LOOP_* settings hold the values."""
        return cls(
            backoff=Backoff(base=s.restart_min_delay, maximum=s.restart_max_delay, jitter=0.0),
            reset_after=s.restart_reset_after,
            max_restarts=s.crash_loop_restarts,
            window=s.crash_loop_window,
            cooldown=s.crash_loop_cooldown,
        )


@dataclass(frozen=True)
class Restart:
    """What to do after an exit: wait `delay` seconds, then start the child again."""

    delay: float
    cooling: bool = False  # the kind is crash-looping: `delay` is the cooldown


@dataclass
class RestartTracker:
    """Back-off state of one child and crash-loop state of its kind (shared by e.g. all downloaders)."""

    policy: RestartPolicy
    attempt: int = 0  # restarts since the last stable run (picks the back-off delay)
    restarts: int = 0  # restarts since the supervisor started, for people
    recent: deque[float] = field(default_factory=deque)  # restart times of this kind, shared

    def on_exit(self, now: float, started_at: float) -> Restart:
        """The child that started at `started_at` exited at `now`: when to start it again."""
        policy = self.policy
        if now - started_at >= policy.reset_after:
            self.attempt = 0
        while self.recent and now - self.recent[0] > policy.window:
            self.recent.popleft()
        self.restarts += 1
        if len(self.recent) >= policy.max_restarts:
            # The kind's count starts over after the rest, and so does this child's back-off.
            self.recent.clear()
            self.attempt = 0
            return Restart(policy.cooldown, cooling=True)
        self.attempt += 1
        self.recent.append(now)
        return Restart(policy.backoff.delay(self.attempt))
