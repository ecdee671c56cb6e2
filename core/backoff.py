"""One back-off with jitter, for every retry loop of the bot (jobs, sends, reconnects).

Exponential: attempt 1 waits about `base`, each further attempt `factor` times longer, never more
than `maximum`. Jitter spreads each delay by up to ± `jitter` of itself, so that many jobs failing
together (a platform hiccup) don't all come back in the same second.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from core.config import Settings

__all__ = ["SEND_RETRY", "Backoff", "Retryable", "retry_delay"]


@dataclass(frozen=True)
class Backoff:
    base: float  # seconds before the first retry
    maximum: float  # no delay is ever longer than this
    factor: float = 2.0
    jitter: float = 0.2  # fraction of the delay, each way

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and math.isfinite(self.maximum)):
            raise ValueError("base and maximum must be finite")
        if not 0 <= self.base <= self.maximum:
            raise ValueError("need 0 <= base <= maximum")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    @classmethod
    def for_jobs(cls, settings: Settings) -> Backoff:
        """The delays between tries of a job (JOB_RETRY_DELAY, JOB_RETRY_MAX_DELAY)."""
        return cls(base=settings.job_retry_delay, maximum=settings.job_retry_max_delay)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based), jittered, at most `maximum`."""
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        raw = self._raw(attempt)
        spread = raw * self.jitter
        offset = (rng or _RNG).uniform(-spread, spread) if spread else 0.0
        return min(max(raw + offset, 0.0), self.maximum)

    def _raw(self, attempt: int) -> float:
        if self.base == 0 or self.factor == 1:
            return self.base
        # Compare exponents instead of computing factor ** n, which overflows for large attempts.
        if attempt - 1 >= math.log(self.maximum / self.base, self.factor):
            return self.maximum
        return min(self.base * self.factor ** (attempt - 1), self.maximum)


# One generator per process for callers that pass none; tests pass a seeded `random.Random`.
_RNG = random.Random()

# A send that Telegram failed transiently (a 5xx, a lost connection, a stalled upload) is tried
# again after this: 1 s, doubling, at most 30 s (the uploader's sender and its broadcasts).
SEND_RETRY = Backoff(base=1.0, maximum=30.0)


class Retryable(Protocol):
    """A failure as far as retrying goes: whether its class is transient, and how long the platform
    asked us to wait (Retry-After), if it did."""

    @property
    def retryable(self) -> bool: ...

    @property
    def retry_after(self) -> float | None: ...


def retry_delay(
    failure: Retryable, attempts: int, max_attempts: int, backoff: Backoff, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before the next try, or None to fail for good now.

    `attempts` counts the tries made, this failed one included (the job's `attempts` column);
    `max_attempts` is JOB_ATTEMPTS. Permanent classes fail at once. A platform's Retry-After is
    respected, unless it is longer than the back-off's maximum: then the job fails now (users are
    told to try later) instead of holding a slot for an hour.
    """
    if not failure.retryable or attempts >= max_attempts:
        return None
    delay = backoff.delay(attempts, rng)
    if failure.retry_after is not None:
        if failure.retry_after > backoff.maximum:
            return None
        delay = max(delay, failure.retry_after)
    return delay
