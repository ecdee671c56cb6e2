"""Telegram's send limits, and the 429s they give.

Each limit is a token bucket: the bot as a whole (`bot_rate`/s, a second's worth of burst), each
private chat (`chat_rate`/s with `chat_burst`), each group or channel (`group_per_min`/min, a
minute's worth of burst). A send passes only when every bucket it touches has a token; otherwise
it is refused with `retry_after` = the whole seconds until all of them will have one. So a client
that keeps to the same rates is never refused, and one that waits `retry_after` is let through.

An album (sendMediaGroup) is N messages and counts N: it passes when every bucket holds
min(N, its capacity) tokens, and takes N from each, so a bucket smaller than the album (a private
chat's burst of 3) may go below zero and the chat then waits until it has paid the album back.

Forced floods (fault injection) refuse a send and then hold the whole bot for `retry_after`
seconds, as a real FloodWait would. A send refused by that hold is marked `held` (counted apart
from the limits' own 429s): a client has some sends on their way when the forced one is refused,
and those land in the hold whatever it does; one that keeps sending into the hold has many.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from sandbox.live_config import LiveConfig

PEAK_WINDOW_S = 1.0
PRUNE_EVERY = 1000  # sends between sweeps of idle per-chat buckets
SECONDS_PER_MINUTE = 60.0


@dataclass
class TokenBucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    @classmethod
    def full(cls, capacity: float, rate: float, now: float) -> TokenBucket:
        return cls(capacity, rate, capacity, now)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, now: float, count: int = 1) -> float:
        """Seconds until `count` tokens (at most a full bucket) are there (0 when they are now)."""
        self.refill(now)
        needed = min(count, self.capacity)
        return 0.0 if self.tokens >= needed else (needed - self.tokens) / self.rate

    def take(self, count: int = 1) -> None:
        self.tokens -= count


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    forced: bool = False
    held: bool = False  # refused by the hold of a forced flood


class SendLimiter:
    """Decides whether a send (or edit) to a chat may happen now."""

    def __init__(self, config: LiveConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._bot: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}
        self._hold_until = 0.0
        self._attempts = 0
        self._sent = deque[float]()
        self.peak = 0

    def config_changed(self) -> None:
        """New rates take effect with full buckets."""
        self._bot = None
        self._chats.clear()

    def _bot_bucket(self, now: float) -> TokenBucket:
        if self._bot is None:
            rate = self.config.bot_rate
            self._bot = TokenBucket.full(max(1.0, rate), rate, now)
        return self._bot

    def _chat_bucket(self, chat_id: int, private: bool, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if private:
                bucket = TokenBucket.full(self.config.chat_burst, self.config.chat_rate, now)
            else:
                per_min = self.config.group_per_min
                bucket = TokenBucket.full(per_min, per_min / SECONDS_PER_MINUTE, now)
            self._chats[chat_id] = bucket
        return bucket

    def _forced(self) -> bool:
        faults = self.config.faults
        if faults.flood_next > 0:
            faults.flood_next -= 1
            return True
        return faults.flood_every > 0 and self._attempts % faults.flood_every == 0

    def admit(self, chat_id: int, private: bool, now: float, count: int = 1) -> Refusal | None:
        """None when the send of `count` messages (an album's items) may go now, and it is counted;
        else why not and for how long."""
        self._attempts += 1
        if self._forced():
            retry = self.config.faults.flood_retry_after
            self._hold_until = max(self._hold_until, now + retry)
            return Refusal(retry, forced=True)
        if now < self._hold_until:
            return Refusal(max(1, math.ceil(self._hold_until - now)), held=True)
        if self.config.limits:
            buckets = (self._bot_bucket(now), self._chat_bucket(chat_id, private, now))
            wait = max(bucket.wait(now, count) for bucket in buckets)
            if wait > 0:
                return Refusal(max(1, math.ceil(wait)))
            for bucket in buckets:
                bucket.take(count)
        self._record(now, count)
        return None

    def _record(self, now: float, count: int = 1) -> None:
        sent = self._sent
        sent.extend([now] * count)
        while sent and sent[0] <= now - PEAK_WINDOW_S:
            sent.popleft()
        self.peak = max(self.peak, len(sent))
        if self._attempts % PRUNE_EVERY == 0:
            self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled: they would be created full again anyway."""
        for chat_id, bucket in list(self._chats.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._chats[chat_id]
