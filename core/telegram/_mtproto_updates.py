"""Updates from kurigram's dispatcher to the trio receiver, and how far they were handled.

One raw pyrogram handler (asyncio side) turns each update into the port's type and sends it into
a trio memory channel: one crossing of the bridge per update. `get_updates` drains the channel.

Each update carries the place in Telegram's update stream after it (a `ResumePoint`); `confirm`
writes the furthest confirmed place into the session file, so a restart asks Telegram for
exactly what was not confirmed. Live updates carry their own pts/qts. Updates fetched on start
by pyrogram's gap recovery (`updates.getDifference`) do not: pyrogram stamps each recovered
message with the difference's *final* pts. So the pipe watches the dispatcher queue and the
storage: the final position that pyrogram proposes after queueing a difference is attached to the
last update of that difference only; the ones before it carry no position and never move the
confirmed state past themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyrogram
import trio
import trio_asyncio
from pyrogram import raw
from pyrogram.handlers import RawUpdateHandler
from pyrogram.storage import UpdateState

from core.logs import uid
from core.telegram._mtproto_convert import convert
from core.telegram._mtproto_state import HeldStateStorage, ResumePoint
from core.telegram.port import IncomingMessage, Update, UpdateBatch

log = logging.getLogger(__name__)

RECENT_MESSAGES = 1000  # (chat, message) pairs remembered to drop one delivered twice at start-up


@dataclass(frozen=True)
class _Delivered:
    update: Update
    resume: ResumePoint | None


class _WatchedQueue(asyncio.Queue[Any]):
    """pyrogram's dispatcher queue, telling the pipe what was put in last."""

    def __init__(self, on_put: Any) -> None:
        super().__init__()
        self._on_put = on_put

    def put_nowait(self, item: Any) -> None:
        if item is not None:
            self._on_put(item[0])
        super().put_nowait(item)


class _Discarded(asyncio.Queue[Any]):
    def put_nowait(self, item: Any) -> None:
        pass


def discard_updates(client: pyrogram.Client) -> None:
    """For a client with `no_updates=True`: drop what kurigram queues for handlers it never runs.

    kurigram's session subscribes its connection to updates anyway (its InitConnection is not
    wrapped in invokeWithoutUpdates) and `handle_updates` queues whatever arrives; with no
    handler tasks nothing would ever take it off the queue.
    """
    client.dispatcher.updates_queue = _Discarded()


class UpdatePipe:
    def __init__(self, storage: HeldStateStorage, loop: asyncio.AbstractEventLoop, *, buffer: int) -> None:
        self._storage = storage
        self._loop = loop
        self._send, self._recv = trio.open_memory_channel[_Delivered](buffer)
        self._last_put: Any = None  # the newest raw update pyrogram queued and we have not handled
        self._marks: dict[int, ResumePoint] = {}  # id(raw update) -> position after it
        self._carry: ResumePoint | None = None  # position of dropped updates, passed to the next one
        self._recent: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._handed_out: dict[int, ResumePoint] = {}  # update_id -> position, until confirmed
        self._committed = ResumePoint()
        self._last_id = 0

    # ---- asyncio side (runs in kurigram's loop) -------------------------------------------------

    def install(self, client: pyrogram.Client) -> None:
        """Hook into `client`; call in the asyncio loop, before `client.start()`."""
        client.dispatcher.updates_queue = _WatchedQueue(self._on_put)
        self._storage.on_proposal = self._on_proposal
        client.add_handler(RawUpdateHandler(self._on_update))

    def _on_put(self, update: Any) -> None:
        self._last_put = update

    def _on_proposal(self, state: UpdateState) -> None:
        # Gap recovery proposes a full position (pts, date and seq) right after queueing a
        # difference. Live traffic proposes partial ones before queueing: pts alone per update,
        # date and seq per container, pts and date for a short message.
        if state.pts is None or state.date is None or state.seq is None or self._last_put is None:
            return
        self._marks[id(self._last_put)] = ResumePoint(state.pts, state.qts, state.date)

    async def _on_update(self, client: pyrogram.Client, update: Any, users: Any, chats: Any) -> None:
        if update is self._last_put:
            self._last_put = None
        resume = _own_position(update)
        mark = self._marks.pop(id(update), None)
        resume = mark.merge(resume) if mark is not None else resume
        converted = convert(update, users, chats, self._next_id())
        if converted is None or self._seen_before(converted):
            self._carry = resume.merge(self._carry) if resume is not None else self._carry
            return
        if self._carry is not None:
            resume = self._carry.merge(resume)
            self._carry = None
        try:
            await trio_asyncio.trio_as_aio(self._send.send, loop=self._loop)(_Delivered(converted, resume))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.debug("receiver closed; update %s stays unconfirmed", converted.update_id)

    def _next_id(self) -> int:
        # Strictly increasing, across restarts too: microseconds of the wall clock.
        self._last_id = max(self._last_id + 1, time.time_ns() // 1000)
        return self._last_id

    def _seen_before(self, update: Update) -> bool:
        if not isinstance(update, IncomingMessage):
            return False
        key = (update.chat.id, update.message_id)
        if key in self._recent:
            log.debug("dropping message %s of chat %s delivered twice", update.message_id, uid(update.chat.id))
            return True
        self._recent[key] = None
        if len(self._recent) > RECENT_MESSAGES:
            self._recent.popitem(last=False)
        return False

    # ---- trio side --------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the confirmed position; call once the session file is open."""
        self._committed = self._storage.committed()

    async def receive(self, timeout: float, max_batch: int) -> UpdateBatch:
        got: list[_Delivered] = []
        with trio.move_on_after(timeout):
            got.append(await self._recv.receive())
        while got and len(got) < max_batch:
            try:
                got.append(self._recv.receive_nowait())
            except trio.WouldBlock:
                break
        for item in got:
            if item.resume is not None:
                self._handed_out[item.update.update_id] = item.resume
        updates = tuple(item.update for item in got)
        return UpdateBatch(updates, max((u.update_id for u in updates), default=0))

    def confirm(self, batch: UpdateBatch) -> None:
        point: ResumePoint | None = None
        for update in batch.updates:
            found = self._handed_out.pop(update.update_id, None)
            if found is not None:
                point = found.merge(point)
        if point is None or not _ahead(point, self._committed):
            return
        self._committed = self._committed.merge(point)
        self._storage.write_resume_point(self._committed)

    def empty(self) -> bool:
        return self._recv.statistics().current_buffer_used == 0

    def close(self) -> None:
        """Stop receiving: a handler still sending gives up (its update stays unconfirmed)."""
        self._recv.close()


def _own_position(update: Any) -> ResumePoint | None:
    pts = getattr(update, "pts", None)
    qts = getattr(update, "qts", None)
    if isinstance(update, raw.types.UpdateNewMessage) and update.pts_count < 0:
        return None  # recovered by getDifference: its pts is the difference's end, not its own
    if pts is None and qts is None:
        return None
    message = getattr(update, "message", None)
    date = getattr(message, "date", None) or getattr(update, "date", None)
    return ResumePoint(pts, qts, date)


def _ahead(point: ResumePoint, committed: ResumePoint) -> bool:
    return any(
        new is not None and (old is None or new > old)
        for new, old in ((point.pts, committed.pts), (point.qts, committed.qts))
    )
