"""The bot's update queue and `getUpdates` long polling, with Telegram's rules:

- an update stays until a later call passes an `offset` above its id (a negative offset keeps
  only the last -offset updates);
- `allowed_updates` is remembered between calls and filters updates when they are created, so
  it does not remove what is already queued; by default every type except chat_member,
  message_reaction and message_reaction_count;
- a second concurrent `getUpdates` ends the older one with 409 Conflict.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

from sandbox.errors import CONFLICT_GET_UPDATES, ApiError, bad_request
from sandbox.wakeup import Changes

UPDATE_TYPES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)
OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_ALLOWED = UPDATE_TYPES - OPT_IN_TYPES
FIRST_UPDATE_ID = 1
MAX_LIMIT = 100
MAX_TIMEOUT_S = 50.0


class UpdateQueue:
    def __init__(self) -> None:
        self._next_id = FIRST_UPDATE_ID
        self._queue: deque[dict[str, Any]] = deque()
        self.allowed: frozenset[str] = DEFAULT_ALLOWED
        self._changes = Changes()
        self._poll = 0  # generation of the newest getUpdates call
        self.waiting = 0  # getUpdates calls waiting right now

    def clear(self) -> None:
        """Forget queued updates; ids keep increasing so a polling bot's offset stays valid."""
        self._queue.clear()
        self.allowed = DEFAULT_ALLOWED
        self._changes.fire()

    def drop_pending(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update of `kind` unless the bot did not ask for that kind; returns its id."""
        if kind not in self.allowed:
            return None
        update_id = self._next_id
        self._next_id += 1
        self._queue.append({"update_id": update_id, kind: payload})
        self._changes.fire()
        return update_id

    def set_allowed(self, raw: Any) -> None:
        if raw is None:
            return
        if not isinstance(raw, list) or not all(isinstance(kind, str) for kind in raw):
            raise bad_request("can't parse allowed updates")
        self.allowed = frozenset(raw) & UPDATE_TYPES if raw else DEFAULT_ALLOWED

    def confirm(self, offset: int) -> None:
        queue = self._queue
        if offset < 0:
            while len(queue) > -offset:
                queue.popleft()
        else:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()

    async def get(self, offset: int | None, limit: int, timeout: float) -> list[dict[str, Any]]:
        self._poll += 1
        generation = self._poll
        self._changes.fire()  # an older poll wakes up and learns it lost
        if offset is not None:
            self.confirm(offset)
        limit = min(max(limit, 1), MAX_LIMIT)
        deadline = trio.current_time() + min(max(timeout, 0.0), MAX_TIMEOUT_S)
        while True:
            if generation != self._poll:
                raise ApiError(409, CONFLICT_GET_UPDATES)
            if self._queue:
                return [self._queue[i] for i in range(min(limit, len(self._queue)))]
            left = deadline - trio.current_time()
            if left <= 0:
                return []
            self.waiting += 1
            try:
                await self._changes.wait_after(self._changes.version, left)
            finally:
                self.waiting -= 1
