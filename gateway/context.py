"""One update being handled: the database, the user, their language, and what to send back.

`reply()` and `answer()` write outbox rows inside the update's transaction and remember them, so
that the update loop announces them to the uploader once the transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from core import outbox
from core.callback_data import CallbackCodec
from core.config import Settings
from core.payloads import CallbackAnswer, Keyboard, Payload, Text
from core.texts import text
from gateway.users import UserRow


@dataclass
class Request:
    settings: Settings
    db: sqlite_utils.Database
    codec: CallbackCodec
    user: UserRow
    chat_id: int
    notices: list[int] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.user.lang

    def t(self, key: str, **values: object) -> str:
        return text(self.lang, key, **values)

    def send(self, payload: Payload, *, priority: int = outbox.PRIORITY_ANSWER, role: str = "", **row: int) -> int:
        item = outbox.enqueue(self.db, self.chat_id, payload, priority=priority, role=role, **row)
        self.notices.append(item)
        return item

    def reply(
        self, body: str, keyboard: Keyboard | None = None, reply_to: int | None = None, *, html: bool = True
    ) -> int:
        return self.send(Text(text=body, keyboard=keyboard, reply_to=reply_to, html=html))

    def answer(self, callback_id: str, body: str | None = None, *, alert: bool = False) -> int:
        return self.send(CallbackAnswer(callback_id=callback_id, text=body, alert=alert))

    def notice(self, item: int | None) -> None:
        if item is not None:
            self.notices.append(item)
