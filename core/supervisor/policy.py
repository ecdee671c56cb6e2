"""When to restart a child, as data: exponential back-off with a crash-loop limit.

Pure logic on timestamps, so that decisions can be tested with scripted histories.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.config import Settings


@dataclass(frozen=True)
class RestartPolicy:
    min_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    reset_after: float = 60.0  # a run at least this long resets the back-off
    max_restarts: int = 5  # more restarts than this within `window` is a crash loop
    window: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_delay <= self.max_delay:
            raise ValueError("need 0 <= min_delay <= max_delay")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if self.max_restarts < 1 or self.window <= 0:
            raise ValueError("max_restarts and window must be positive")

    @classmethod
    def from_settings(cls, s: Settings) -> RestartPolicy:
        return cls(
            min_delay=s.restart_min_delay,
            max_delay=s.restart_max_delay,
            reset_after=s.restart_reset_after,
            max_restarts=s.crash_loop_restarts,
            window=s.crash_loop_window,
        )


@dataclass
class RestartTracker:
    """Back-off state of one child and crash-loop state of its kind (shared by e.g. all downloaders)."""

    policy: RestartPolicy
    delay: float = 0.0
    restarts: int = 0
    recent: deque[float] = field(default_factory=deque)  # restart times of this kind, shared

    def on_exit(self, now: float, started_at: float) -> float | None:
        """The child exited at `now`; return the delay before restarting it, or None to give up."""
        if now - started_at >= self.policy.reset_after:
            self.delay = 0.0
        while self.recent and now - self.recent[0] > self.policy.window:
            self.recent.popleft()
        if len(self.recent) >= self.policy.max_restarts:
            return None
        self.delay = (
            self.policy.min_delay if self.delay == 0 else min(self.delay * self.policy.factor, self.policy.max_delay)
        )
        self.recent.append(now)
        self.restarts += 1
        return self.delay
