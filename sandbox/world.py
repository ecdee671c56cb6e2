"""The simulated Telegram: people, chats, memberships, and the updates their actions cause.

User-side actions (a message, a button press, joining a channel, blocking the bot) change the
world and queue the update the bot would receive. Every change to what a user sees fires that
user's `Changes`, which the web chat's event stream waits on.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from sandbox import render
from sandbox.entities import Entity, detect, strip_text
from sandbox.errors import ApiError, chat_not_found, forbidden
from sandbox.inline import InlineState
from sandbox.markup import MAX_CALLBACK_DATA_BYTES, MAX_CAPTION_CHARS, MAX_TEXT_CHARS
from sandbox.model import (
    PRESENT_STATUSES,
    Chat,
    ForwardOrigin,
    MemberStatus,
    Message,
    PendingCallback,
    Person,
    StoredFile,
)
from sandbox.updates import UpdateQueue
from sandbox.wakeup import Changes

DEFAULT_BOT_ID = 1000001
CHANNEL_ID_BASE = 1_000_000_000_000  # channel ids look like Telegram's -100xxxxxxxxxx
CALLBACK_ID_BITS = 63
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")


class SimulationError(Exception):
    """A bad request to the user-simulation API: HTTP `status` with a readable reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def now() -> int:
    return int(time.time())


def normalise_username(raw: str) -> str:
    name = raw.strip().removeprefix("@")
    if not _USERNAME.match(name):
        raise SimulationError(400, f"bad username {raw!r}: 1-32 letters, digits or underscores, after '@'")
    return name


class World:
    def __init__(self) -> None:
        self.updates = UpdateQueue()
        self.bot_id = DEFAULT_BOT_ID
        self.user_changes: dict[int, Changes] = {}
        self.reset()

    def reset(self) -> None:
        self.people: dict[int, Person] = {}
        self.chats: dict[int, Chat] = {}
        self.usernames: dict[str, int] = {}  # lower-case channel username -> chat id
        self.callbacks: dict[str, PendingCallback] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.inline = InlineState()
        self.updates.clear()
        self._next_channel = 1
        # Wake every open event stream: its user's chat is gone. Streams keep their Changes object.
        for changes in self.user_changes.values():
            changes.fire()

    # ---- change notification ----

    def changes(self, user_id: int) -> Changes:
        return self.user_changes.setdefault(user_id, Changes())

    def notify(self, user_id: int) -> None:
        changes = self.user_changes.get(user_id)
        if changes is not None:
            changes.fire()

    def notify_chat(self, chat: Chat) -> None:
        """Tell the user who sees `chat` (a private chat's user, a target chat's owner) it changed."""
        owner = self.inline.owner(chat)
        if owner is not None:
            self.notify(owner)
        elif chat.type == "private":
            self.notify(chat.id)

    # ---- people and chats ----

    def person(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Person:
        """The user with this id, created on first use; given fields update it."""
        if user_id <= 0:
            raise SimulationError(400, "user ids are positive integers")
        p = self.people.get(user_id)
        if p is None:
            p = Person(user_id, first_name or f"User {user_id}")
            self.people[user_id] = p
            self.chats[user_id] = Chat(user_id, "private")
        if first_name:
            p.first_name = first_name
        if username is not None:
            p.username = username.removeprefix("@") or None
        if language_code:
            p.language_code = language_code
        return p

    def channel(self, ref: str) -> Chat:
        chat_id = self.usernames.get(ref.strip().removeprefix("@").lower())
        if chat_id is None:
            raise SimulationError(404, f"no chat {ref!r}; create it with POST /sandbox/chats")
        return self.chats[chat_id]

    def resolve(self, ref: int | str | None) -> Chat:
        """The chat a Bot API `chat_id` names, or 400 chat not found."""
        if isinstance(ref, str):
            chat_id = self.usernames.get(ref.removeprefix("@").lower())
            if chat_id is None:
                raise chat_not_found()
            return self.chats[chat_id]
        chat = self.chats.get(ref) if ref is not None else None
        if chat is None:
            raise chat_not_found()
        return chat

    def writable(self, ref: int | str | None) -> Chat:
        """The chat, if the bot may post there (else 400/403 as Telegram answers)."""
        chat = self.resolve(ref)
        if chat.type == "private":
            p = self.people[chat.id]
            if p.blocked:
                raise forbidden("bot was blocked by the user")
            if not p.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif not chat.bot_is_admin:
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def create_chat(self, username: str, kind: str, title: str | None, bot_is_admin: bool) -> Chat:
        name = normalise_username(username)
        if kind not in ("channel", "supergroup"):
            raise SimulationError(400, 'type must be "channel" or "supergroup"')
        chat_id = self.usernames.get(name.lower())
        if chat_id is None:
            chat_id = -(CHANNEL_ID_BASE + self._next_channel)
            self._next_channel += 1
            self.chats[chat_id] = Chat(chat_id, "channel" if kind == "channel" else "supergroup", username=name)
            self.usernames[name.lower()] = chat_id
            was_admin = False
        else:
            was_admin = self.chats[chat_id].bot_is_admin
        chat = self.chats[chat_id]
        chat.type = "channel" if kind == "channel" else "supergroup"
        chat.title = title or chat.title or name
        chat.bot_is_admin = bot_is_admin
        if was_admin != bot_is_admin:
            self._my_chat_member(chat, None, "administrator" if was_admin else "left", bot_is_admin)
        return chat

    # ---- what users do ----

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        entities: list[Entity] | None = None,
        media: StoredFile | None = None,
        reply_to: int | None = None,
        forward: ForwardOrigin | None = None,
        **profile: str | None,
    ) -> Message:
        """The user writes `text` (the caption when `media` is given) to the bot."""
        p = self.person(user_id, **profile)
        plain, given = strip_text(text, entities or [])
        limit, what = (MAX_CAPTION_CHARS, "caption") if media else (MAX_TEXT_CHARS, "text")
        if not plain and media is None:
            raise SimulationError(400, "text is empty")
        if len(plain) > limit:
            raise SimulationError(400, f"{what} is longer than {limit} characters")
        chat = self.chats[user_id]
        replied = chat.messages.get(reply_to) if reply_to is not None else None
        if reply_to is not None and (replied is None or replied.deleted):
            raise SimulationError(404, f"user {user_id} has no message {reply_to} to reply to")
        if p.blocked:  # writing to a blocked bot restarts it, as Telegram's "Restart bot" does
            self.set_blocked(user_id, False)
        p.started = True
        msg = Message(chat.new_message_id(), chat.id, from_bot=False, date=now(), media=media)
        msg.text, msg.caption = (None, plain or None) if media else (plain, None)
        msg.entities, msg.reply_to, msg.forward = detect(plain, given), reply_to, forward
        chat.messages[msg.message_id] = msg
        self.updates.push("message", render.message(self, msg))
        self.notify(user_id)
        return msg

    def user_presses(self, user_id: int, message_id: int, data: str, forged: bool = False) -> str:
        """`forged`: a modified client sends `data` that no button of the message carries (any
        string of 1 to 64 bytes); the bot must trust callback data no more than Telegram does."""
        p = self.people.get(user_id)
        msg = self.chats[user_id].messages.get(message_id) if p else None
        if p is None or msg is None or msg.deleted or not msg.from_bot:
            raise SimulationError(404, f"user {user_id} has no bot message {message_id}")
        buttons = [b for row in (msg.reply_markup or {}).get("inline_keyboard", []) for b in row]
        if forged and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise SimulationError(400, f"callback data must be 1-{MAX_CALLBACK_DATA_BYTES} bytes")
        if not forged and not any(b.get("callback_data") == data for b in buttons):
            raise SimulationError(400, f"message {message_id} has no button with callback_data {data!r}")
        query_id = str(secrets.randbits(CALLBACK_ID_BITS))
        self.callbacks[query_id] = PendingCallback(query_id, user_id, message_id, data)
        payload = {
            "id": query_id,
            "from": render.person(p),
            "message": render.message(self, msg),
            "chat_instance": str((user_id * 2654435761) % 10**18),
            "data": data,
        }
        self.updates.push("callback_query", payload)
        return query_id

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        p = self.person(user_id)
        if p.blocked == blocked:
            return
        p.blocked = blocked
        self._my_chat_member(self.chats[user_id], p, "member" if blocked else "kicked", not blocked)
        self.notify(user_id)

    def set_member(self, chat: Chat, user_id: int, status: MemberStatus) -> None:
        p = self.person(user_id)
        old = chat.status_of(user_id)
        if old == status:
            return
        chat.members[user_id] = status
        if chat.bot_is_admin:
            payload = {
                "chat": render.chat(self, chat),
                "from": render.person(p),
                "date": now(),
                "old_chat_member": render.chat_member(render.person(p), old, chat.type),
                "new_chat_member": render.chat_member(render.person(p), status, chat.type),
            }
            self.updates.push("chat_member", payload)
        self.notify(user_id)

    def join(self, chat: Chat, user_id: int) -> None:
        status = chat.status_of(user_id)
        if status == "kicked":
            raise SimulationError(403, f"user {user_id} is banned in @{chat.username}")
        if status not in PRESENT_STATUSES:
            self.set_member(chat, user_id, "member")

    def _my_chat_member(self, chat: Chat, actor: Person | None, old: str, present: bool) -> None:
        """The bot's own membership changed: blocked/unblocked, or promoted/demoted in a channel."""
        bot = render.bot_user(self.bot_id)
        states = ("member", "kicked") if chat.type == "private" else ("administrator", "left")
        new = states[0] if present else states[1]
        payload: dict[str, Any] = {
            "chat": render.chat(self, chat),
            "from": render.person(actor) if actor else bot,
            "date": now(),
            "old_chat_member": render.chat_member(bot, old, chat.type),
            "new_chat_member": render.chat_member(bot, new, chat.type),
        }
        self.updates.push("my_chat_member", payload)

    # ---- what the bot does ----

    def bot_message(self, chat: Chat, **fields: Any) -> Message:
        msg = Message(chat.new_message_id(), chat.id, from_bot=True, date=now(), **fields)
        chat.messages[msg.message_id] = msg
        self.notify_chat(chat)
        return msg

    def bot_message_to_edit(self, chat: Chat, message_id: int | None) -> Message:
        msg = chat.messages.get(message_id or 0)
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg
