"""Inline mode: what a user types after the bot's @username, the bot's answer, and what is sent.

A user types a query (`POST /sandbox/users/{id}/inline {"query": ...}`): the bot gets an
`inline_query` update. Its `answerInlineQuery` is checked and kept as offers, each the message it
becomes when chosen. The user chooses one (`{"result_id": ...}`): the message appears in the
user's *target chat* (a private chat with a friend, which the bot is not in) as sent by the user
"via @bot", and the bot gets a `chosen_inline_result` update, with an `inline_message_id` only
when the result has an inline keyboard (as Telegram gives one: the bot can edit the message only
through it). The target chat is not in `World.chats`: the bot cannot address it by chat_id.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.model import Chat, Message

MAX_QUERY_CHARS = 256
TARGET_CHAT_BASE = 5_000_000_000  # target chat ids: this plus the user's id
QUERY_ID_BITS = 63
INLINE_ID_BYTES = 18  # inline_message_id: base64 of this many random bytes, as long as Telegram's
CHAT_TYPES = ("sender", "private", "group", "supergroup", "channel")


@dataclass
class Offer:
    """One result of an answer: its JSON as the bot sent it, and the message it becomes."""

    result: dict[str, Any]
    message: dict[str, Any]  # Message fields (text or media, caption, entities, reply_markup...)


@dataclass
class InlineQuery:
    id: str
    user_id: int
    query: str
    chat_type: str
    answered: bool = False
    offers: dict[str, Offer] = field(default_factory=dict)  # result id -> offer, in the bot's order
    answer: dict[str, Any] = field(default_factory=dict)  # cache_time, is_personal, next_offset, button


class InlineState:
    def __init__(self) -> None:
        self.queries: dict[str, InlineQuery] = {}
        self.latest: dict[int, str] = {}  # user -> the query they typed last
        self.targets: dict[int, Chat] = {}  # user -> their target chat
        self.messages: dict[str, tuple[int, int]] = {}  # inline_message_id -> (user, message id)

    def ask(self, user_id: int, query: str, chat_type: str) -> InlineQuery:
        asked = InlineQuery(str(secrets.randbits(QUERY_ID_BITS)), user_id, query, chat_type)
        self.queries[asked.id] = asked
        self.latest[user_id] = asked.id
        return asked

    def target(self, user_id: int) -> Chat:
        chat = self.targets.get(user_id)
        if chat is None:
            chat = self.targets[user_id] = Chat(TARGET_CHAT_BASE + user_id, "private", title="Friend")
        return chat

    def sent(self, user_id: int, msg: Message) -> str:
        inline_id = base64.urlsafe_b64encode(secrets.token_bytes(INLINE_ID_BYTES)).decode().rstrip("=")
        self.messages[inline_id] = (user_id, msg.message_id)
        return inline_id

    def find(self, inline_message_id: str) -> tuple[Chat, Message] | None:
        found = self.messages.get(inline_message_id)
        if found is None:
            return None
        chat = self.targets[found[0]]
        msg = chat.messages.get(found[1])
        return None if msg is None or msg.deleted else (chat, msg)

    def owner(self, chat: Chat) -> int | None:
        """The user whose target chat this is (None for any other chat)."""
        user_id = chat.id - TARGET_CHAT_BASE
        return user_id if self.targets.get(user_id) is chat else None
