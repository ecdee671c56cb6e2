"""The send budget: every Telegram call that counts as a send waits here for its slot.

Limits, matched to how Telegram counts, as the sandbox does it (`sandbox/limits.py`):
- the bot: at most `limit` = floor(TG_GLOBAL_RATE) sends in any window of `max(1 s, limit / rate)`
  (a sliding window: what the sandbox's `peak_send_rate` measures, and it never empties the
  sandbox's bot bucket of capacity = rate refilled at rate/s), and a pacer that spaces the sends
  evenly at that rate (29.97/s at 30/s: the window counts each send STAMP_GUARD_S late), so
  requests do not bunch up and an answer arriving in a full budget waits about one interval;
- a private chat: the sandbox's own bucket, TG_CHAT_BURST tokens refilled at TG_CHAT_RATE/s;
  a group or channel (negative id): TG_GROUP_PER_MIN tokens refilled at TG_GROUP_PER_MIN/60 s.

An album is `count` sends (Telegram counts each item): it waits until the bot's window has room
for all of them and the chat's bucket holds min(count, its capacity) tokens, then takes `count`
(a chat's bucket smaller than the album goes into debt, as Telegram's and the sandbox's do).

A send is counted from the moment it is granted ("in flight": it holds its place in every window
and bucket) until the call returns, and then as having happened when it returned (plus
STAMP_GUARD_S). Telegram counts it at some moment in between, so the windows can never be
tighter than what Telegram sees, however late the request arrives (a slow upload, a stalled
process): no margin is needed for latency, and the windows run at the full rate. `sending()`
does that; `acquire()` is for a caller that cannot wrap the call and counts the send as instant.

Who gets a freed slot: the highest priority (`core.outbox`, 1 first) among waiters whose chat can
send now and is not paused; within a priority, round-robin over chats (a chat that just sent goes
behind the chats that are waiting); first come first served within a chat. So broadcast (5) only
takes slots no other waiter can use, and a heavy user's queue does not starve a light one.

Thinning: a waiter given `max_wait` (progress edits) raises `Thinned` when it is not granted within
that time; it never takes a slot from a higher priority that can use it, and low priorities
(progress, broadcast) leave a chat's last token (LOW_PRIORITY_CHAT_RESERVE) to the answers and
files of that chat. `thin(chat_id)` drops a chat's waiting progress edits at once (its file is
going out, so they are stale).

FloodWait: `flood()` pauses that chat, or the whole bot ("global"; "method" too, as we do not know
which method), for exactly the seconds given; the waiters then resume in order, nothing dropped.

A restart: a new process cannot know what the last one sent just before it died, so `resume()`
starts from the worst it could have left: the FloodWait pauses it recorded (`on_flood` hands them
out as they change; `uploader.budget_memory` keeps them), the bot's window full (nothing goes for
its first span, one second), and every chat's bucket empty (refilling from the moment of the
restart). So a restart neither sends into a FloodWait nor on top of the last second's sends.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from core import metrics
from core.config import Settings
from core.outbox import PRIORITIES, PRIORITY_PROGRESS

STAMP_GUARD_S = 0.001  # a returned send is counted this much later, against clock rounding
PACE_CATCH_UP = 0.5  # of a pacing interval: how late a grant (a busy machine) may be and still be made up
LOW_PRIORITY_CHAT_RESERVE = 1  # chat tokens progress and broadcast leave for answers and files
PRUNE_EVERY = 1000  # grants between sweeps of idle chats
TOKEN_EPSILON = 1e-9  # a bucket this close to a whole token has it (float rounding)
MIN_TICK = 1e-6  # the timekeeper never sleeps shorter than this, so it cannot spin
SECONDS_PER_MINUTE = 60.0
PEAK_WINDOW_S = 1.0  # what "sends in the last second" means in the stats
INF = math.inf


class Thinned(Exception):
    """A send with `max_wait` gave way: no slot in time, or its chat's pending edits were dropped."""


class Unsent(Exception):
    """Raised inside `sending()` before the call when the send turned out moot: the slot is given back."""


@dataclass(frozen=True)
class BudgetStats:
    waiting: dict[int, int]  # waiters per priority
    sends_last_second: int  # sends granted and not yet a second old (in-flight ones included)
    in_flight: int  # granted sends whose call has not returned yet
    tracked_chats: int
    granted: int  # since start
    thinned: int  # since start
    paused_for: float  # seconds left of a global FloodWait


@dataclass(frozen=True)
class Pauses:
    """The FloodWait pauses in force, as seconds left: the whole bot's, and single chats'."""

    everything: float = 0.0
    chats: dict[int, float] = field(default_factory=dict)


class _Bucket:
    """A token bucket whose tokens are taken when a send returns; in-flight sends are counted apart."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.stamp = capacity, rate, capacity, now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def ready_at(self, need: float, now: float) -> float:
        """When `need` tokens will be there (`now` if they are); INF if the bucket cannot hold them."""
        if need > self.capacity + TOKEN_EPSILON:
            return INF
        self.refill(now)
        missing = need - self.tokens
        return now if missing <= TOKEN_EPSILON else self.stamp + missing / self.rate

    def take(self, now: float, refill_from: float | None = None, count: int = 1) -> None:
        """Take `count` tokens now (below zero: a debt); with `refill_from`, the bucket starts
        refilling only then."""
        self.refill(now)
        self.tokens -= count
        if refill_from is not None:
            self.stamp = max(self.stamp, refill_from)

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity - TOKEN_EPSILON


class _Pacer:
    """Sends evenly spaced, `interval` apart on a fixed schedule; being late by up to `catch_up` is
    made up for (so the rate holds), being later is not (so nothing bunches up after a pause)."""

    __slots__ = ("catch_up", "interval", "next_slot")

    def __init__(self, interval: float, catch_up: float, now: float) -> None:
        self.interval, self.catch_up, self.next_slot = interval, catch_up, now

    def ready_at(self, now: float) -> float:
        return max(now, self.next_slot)

    def take(self, now: float) -> None:
        self.next_slot = max(self.next_slot + self.interval, now + self.interval - self.catch_up)

    def give_back(self) -> None:
        self.next_slot -= self.interval


class _Window:
    """At most `limit` sends in any `span` seconds: returned sends by their stamp, plus those in flight."""

    __slots__ = ("in_flight", "limit", "span", "stamps")

    def __init__(self, limit: int, span: float) -> None:
        self.limit, self.span = limit, span
        self.stamps: deque[float] = deque()  # return times, in order (the clock only goes forward)
        self.in_flight = 0

    def ready_at(self, now: float, count: int = 1) -> float:
        stamps = self.stamps
        while stamps and stamps[0] + self.span <= now:
            stamps.popleft()
        over = len(stamps) + self.in_flight + min(count, self.limit) - 1 - self.limit  # must leave first
        if over < 0:
            return now
        return stamps[over] + self.span if over < len(stamps) else INF

    def count_since(self, since: float) -> int:
        return sum(1 for stamp in self.stamps if stamp > since) + self.in_flight


class _Chat:
    __slots__ = ("bucket", "in_flight", "open_at", "paused_until", "reserve", "waiting")

    def __init__(self, bucket: _Bucket) -> None:
        self.bucket = bucket
        self.in_flight = 0
        self.paused_until = 0.0
        self.waiting = 0
        self.reserve = min(LOW_PRIORITY_CHAT_RESERVE, max(0, int(bucket.capacity) - 1))
        self.open_at = (0.0, 0.0)  # when a normal / a low-priority send may go; kept by `refresh`

    def refresh(self, now: float) -> None:
        need = 1 + self.in_flight
        self.open_at = (
            max(self.paused_until, self.bucket.ready_at(need, now)),
            max(self.paused_until, self.bucket.ready_at(need + self.reserve, now)),
        )

    def open_for(self, count: int, low: int, now: float) -> float:
        """When an album of `count` may go (its items beyond the bucket's size go into debt)."""
        need = min(count, self.bucket.capacity) + self.in_flight + (self.reserve if low else 0)
        return max(self.paused_until, self.bucket.ready_at(need, now))

    def idle(self, now: float) -> bool:
        return not self.waiting and not self.in_flight and self.paused_until <= now and self.bucket.full(now)


class _Waiter:
    __slots__ = ("chat", "chat_id", "count", "event", "granted", "priority")

    def __init__(self, chat_id: int, chat: _Chat, priority: int, count: int = 1) -> None:
        self.chat_id, self.chat, self.priority, self.count = chat_id, chat, priority, count
        self.event = trio.Event()
        self.granted = False


class SendBudget:
    """Telegram's send limits as one scheduler, driven by the trio clock; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        rate = settings.tg_global_rate
        limit = max(1, math.floor(rate))
        span = max(1.0, limit / rate)
        now = trio.current_time()
        self._window = _Window(limit, span)
        interval = (span + STAMP_GUARD_S) / limit  # the window's own rate, spread evenly
        self._pacer = _Pacer(interval, interval * PACE_CATCH_UP, now)
        self._paused_until = 0.0
        self._chats: dict[int, _Chat] = {}
        self._queues: dict[int, OrderedDict[int, deque[_Waiter]]] = {p: OrderedDict() for p in PRIORITIES}
        self._waiting = dict.fromkeys(PRIORITIES, 0)
        self._keeper: _Waiter | None = None  # the one waiter that sleeps until the next change
        self._keeper_wake = INF
        self._next_change = INF
        self._granted = 0
        self._thinned = 0
        self._spent_at: float | None = None  # set by `resume`: chats' buckets start empty then
        self.on_flood: Callable[[Pauses], None] | None = None  # told the pauses after each FloodWait

    # ---- the public interface -----------------------------------------------------------------

    async def acquire(
        self, chat_id: int, priority: int, *, is_group: bool | None = None, max_wait: float | None = None
    ) -> None:
        """Return when a send to `chat_id` may go now, counted as sent now; `Thinned` past `max_wait`."""
        waiter = await self._wait_for_grant(chat_id, priority, is_group, max_wait)
        self._returned(waiter)

    @asynccontextmanager
    async def sending(
        self,
        chat_id: int,
        priority: int,
        *,
        is_group: bool | None = None,
        max_wait: float | None = None,
        count: int = 1,
    ) -> AsyncIterator[None]:
        """Hold a granted slot around the Telegram call; it counts as sent when the block exits.
        `count`: the call is that many messages (an album's items).

        Put only the call inside (it has its own timeout): the slot stays in flight until then. A
        block that raises `Unsent` made no call: its slot goes to the next waiter.
        """
        waiter = await self._wait_for_grant(chat_id, priority, is_group, max_wait, count)
        try:
            yield
        except Unsent:
            self._abandon(waiter)
            raise
        except BaseException:
            self._returned(waiter)
            raise
        else:
            self._returned(waiter)

    def flood(self, chat_id: int, seconds: float, scope: str) -> None:
        """Telegram said wait: pause the chat ("chat") or everything (else) exactly `seconds`."""
        metrics.count("flood_waits", scope=scope)
        metrics.count("flood_wait_seconds", seconds, scope=scope)
        now = trio.current_time()
        until = now + max(0.0, seconds)
        if scope == "chat":
            chat = self._chat(chat_id, None, now)
            chat.paused_until = max(chat.paused_until, until)
            chat.refresh(now)
        else:
            self._paused_until = max(self._paused_until, until)
        self._dispatch()
        if self.on_flood is not None:
            self.on_flood(self.pauses())

    def pauses(self) -> Pauses:
        """The FloodWait pauses still running (chats' only those of chats still tracked)."""
        now = trio.current_time()
        chats = {chat_id: chat.paused_until - now for chat_id, chat in self._chats.items() if chat.paused_until > now}
        return Pauses(max(0.0, self._paused_until - now), chats)

    def resume(self, pauses: Pauses) -> None:
        """Pick up after another process (see the module docstring): its pauses, and every limit
        as if it had just been used up."""
        now = trio.current_time()
        self._spent_at = now
        self._paused_until = max(self._paused_until, now + pauses.everything, now + self._window.span)
        for chat_id, seconds in pauses.chats.items():
            chat = self._chat(chat_id, None, now)
            chat.paused_until = max(chat.paused_until, now + seconds)
            chat.refresh(now)
        self._dispatch()

    def thin(self, chat_id: int, priority: int = PRIORITY_PROGRESS) -> int:
        """Drop the chat's waiting sends of `priority` (they raise `Thinned`); how many there were."""
        queue = self._queues[priority].pop(chat_id, None)
        if not queue:
            return 0
        for waiter in queue:
            self._dequeued(waiter)
            waiter.event.set()  # it wakes up ungranted and out of the queue: Thinned
        if self._keeper is not None and self._keeper in queue:
            self._keeper = None
            self._elect_keeper()
        self._dispatch()
        return len(queue)

    def stats(self) -> BudgetStats:
        now = trio.current_time()
        return BudgetStats(
            waiting=dict(self._waiting),
            sends_last_second=self._window.count_since(now - PEAK_WINDOW_S),
            in_flight=self._window.in_flight,
            tracked_chats=len(self._chats),
            granted=self._granted,
            thinned=self._thinned,
            paused_for=max(0.0, self._paused_until - now),
        )

    # ---- waiting --------------------------------------------------------------------------------

    async def _wait_for_grant(
        self, chat_id: int, priority: int, is_group: bool | None, max_wait: float | None, count: int = 1
    ) -> _Waiter:
        if priority not in self._queues:
            raise ValueError(f"unknown send priority {priority}")
        now = trio.current_time()
        deadline = INF if max_wait is None else now + max(0.0, max_wait)
        waiter = _Waiter(chat_id, self._chat(chat_id, is_group, now), priority, max(1, count))
        self._enqueue(waiter)
        try:
            self._dispatch()
            while not waiter.granted:
                if self._keeper is None:
                    self._keeper = waiter
                wake = deadline
                if self._keeper is waiter:
                    wake = self._keeper_wake = min(deadline, self._next_change)
                with trio.move_on_at(wake):
                    await waiter.event.wait()
                if waiter.granted:
                    break
                waiter.event = trio.Event()
                if self._queued(waiter):
                    self._dispatch()
                if not waiter.granted and (trio.current_time() >= deadline or not self._queued(waiter)):
                    self._thinned += 1
                    raise Thinned(f"no send slot for chat {chat_id} within {max_wait}s")
        except BaseException:
            self._abandon(waiter)
            raise
        finally:
            if self._keeper is waiter:
                self._keeper = None
                self._elect_keeper()
        return waiter

    def _queued(self, waiter: _Waiter) -> bool:
        queue = self._queues[waiter.priority].get(waiter.chat_id)
        return queue is not None and waiter in queue

    def _enqueue(self, waiter: _Waiter) -> None:
        queue = self._queues[waiter.priority].get(waiter.chat_id)
        if queue is None:
            queue = self._queues[waiter.priority][waiter.chat_id] = deque()
        queue.append(waiter)
        waiter.chat.waiting += 1
        self._waiting[waiter.priority] += 1

    def _dequeued(self, waiter: _Waiter) -> None:
        waiter.chat.waiting -= 1
        self._waiting[waiter.priority] -= 1

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter leaves by cancellation or thinning: out of the queue, or its grant undone."""
        if waiter.granted:
            self._window.in_flight -= waiter.count
            waiter.chat.in_flight -= waiter.count
            waiter.chat.refresh(trio.current_time())
            for _ in range(waiter.count):
                self._pacer.give_back()
            self._granted -= 1
            self._dispatch()
            return
        queues = self._queues[waiter.priority]
        queue = queues.get(waiter.chat_id)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            self._dequeued(waiter)
            if not queue:
                del queues[waiter.chat_id]

    def _elect_keeper(self) -> None:
        for queues in self._queues.values():
            for queue in queues.values():
                self._keeper = queue[0]
                self._keeper_wake = -INF  # it has not chosen its sleep yet
                queue[0].event.set()
                return

    # ---- granting -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Grant every send that may go now, best first; then note when the next one could."""
        now = trio.current_time()
        next_change = INF
        while any(self._waiting.values()):
            ready = self._global_ready_at(now)
            if ready > now:
                next_change = ready
                break
            waiter, soonest = self._pick(now)
            if waiter is None:
                next_change = soonest
                break
            if waiter.count > 1 and (room := self._window.ready_at(now, waiter.count)) > now:
                next_change = room  # an album waits for room for all its items (it keeps its turn)
                break
            self._grant(waiter, now)
        self._next_change = max(next_change, now + MIN_TICK)
        keeper = self._keeper
        if keeper is not None and not keeper.granted and self._next_change < self._keeper_wake:
            keeper.event.set()  # it sleeps too long now: wake it to sleep again until the new time

    def _global_ready_at(self, now: float) -> float:
        return max(self._paused_until, self._pacer.ready_at(now), self._window.ready_at(now))

    def _pick(self, now: float) -> tuple[_Waiter | None, float]:
        """The first waiter, by priority then round-robin over chats, whose chat may send now."""
        soonest = INF
        for priority, queues in self._queues.items():
            low = 1 if priority >= PRIORITY_PROGRESS else 0
            for queue in queues.values():
                head = queue[0]
                open_at = head.chat.open_at[low] if head.count == 1 else head.chat.open_for(head.count, low, now)
                if open_at <= now:
                    return queue[0], soonest
                soonest = min(soonest, open_at)
        return None, soonest

    def _grant(self, waiter: _Waiter, now: float) -> None:
        queues = self._queues[waiter.priority]
        queue = queues[waiter.chat_id]
        queue.popleft()
        if queue:
            queues.move_to_end(waiter.chat_id)  # behind the chats that are waiting
        else:
            del queues[waiter.chat_id]
        self._dequeued(waiter)
        for _ in range(waiter.count):
            self._pacer.take(now)
        self._window.in_flight += waiter.count
        waiter.chat.in_flight += waiter.count
        waiter.chat.refresh(now)
        waiter.granted = True
        waiter.event.set()
        self._granted += 1
        if self._granted % PRUNE_EVERY == 0:
            self._prune(now)

    def _returned(self, waiter: _Waiter) -> None:
        """The call returned: count the send as made now (a little later, to be safe)."""
        now = trio.current_time()
        stamp = now + STAMP_GUARD_S
        self._window.in_flight -= waiter.count
        self._window.stamps.extend([stamp] * waiter.count)
        chat = waiter.chat
        chat.in_flight -= waiter.count
        chat.bucket.take(now, refill_from=stamp, count=waiter.count)
        chat.refresh(now)
        if any(self._waiting.values()):
            self._dispatch()

    # ---- chats ----------------------------------------------------------------------------------

    def _chat(self, chat_id: int, is_group: bool | None, now: float) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            group = chat_id < 0 if is_group is None else is_group
            if group:
                per_min = self.settings.tg_group_per_min
                bucket = _Bucket(per_min, per_min / SECONDS_PER_MINUTE, now)
            else:
                bucket = _Bucket(self.settings.tg_chat_burst, self.settings.tg_chat_rate, now)
            if self._spent_at is not None:  # after a restart: refilling since then, as if emptied
                bucket.tokens, bucket.stamp = 0.0, self._spent_at
                bucket.refill(now)
            chat = self._chats[chat_id] = _Chat(bucket)
            chat.refresh(now)
        return chat

    def _prune(self, now: float) -> None:
        """Forget chats with nothing pending and a full bucket: they would start full anyway."""
        for chat_id in [k for k, chat in self._chats.items() if chat.idle(now)]:
            del self._chats[chat_id]
