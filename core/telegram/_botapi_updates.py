"""Bot API update objects (JSON) turned into the port's update types.

Tolerant reader: unknown update kinds and unknown fields are ignored; an update missing a field
we need is skipped with one warning, never crashing the receiver. Entity offsets stay in UTF-16
code units, exactly as the Bot API gives them.
"""

from __future__ import annotations

import logging
from typing import Any, cast, get_args

from core.telegram.port import (
    BotBlocked,
    CallbackQuery,
    Chat,
    ChatMemberChange,
    ChosenInlineResult,
    Entity,
    IncomingMessage,
    InlineQuery,
    MemberStatus,
    Update,
    User,
)

log = logging.getLogger(__name__)

# What getUpdates asks for; chat_member must be requested explicitly in the Bot API.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member", "chat_member", "inline_query", "chosen_inline_result")
CHAT_TYPES = ("private", "group", "supergroup", "channel")
MEMBER_STATUSES: tuple[str, ...] = get_args(MemberStatus)


def parse_user(raw: dict[str, Any]) -> User:
    return User(
        id=int(raw["id"]),
        first_name=str(raw.get("first_name") or ""),
        username=raw.get("username"),
        language_code=raw.get("language_code"),
        is_bot=bool(raw.get("is_bot", False)),
    )


def parse_chat(raw: dict[str, Any]) -> Chat:
    kind = raw.get("type", "private")
    if kind not in CHAT_TYPES:
        raise ValueError(f"unknown chat type {kind!r}")
    return Chat(id=int(raw["id"]), type=kind, title=raw.get("title"), username=raw.get("username"))


def parse_status(raw: Any) -> MemberStatus:
    if raw not in MEMBER_STATUSES:
        raise ValueError(f"unknown member status {raw!r}")
    return cast(MemberStatus, raw)


def _entities(raw: list[dict[str, Any]] | None) -> tuple[Entity, ...]:
    return tuple(
        Entity(type=str(e["type"]), offset=int(e["offset"]), length=int(e["length"]), url=e.get("url"))
        for e in raw or ()
    )


def _message(update_id: int, raw: dict[str, Any]) -> IncomingMessage | None:
    if "from" not in raw:  # channel posts and anonymous admins: nobody to answer
        return None
    has_text = "text" in raw
    return IncomingMessage(
        update_id=update_id,
        message_id=int(raw["message_id"]),
        chat=parse_chat(raw["chat"]),
        sender=parse_user(raw["from"]),
        date=int(raw.get("date", 0)),
        text=str(raw.get("text") if has_text else raw.get("caption") or ""),
        entities=_entities(raw.get("entities") if has_text else raw.get("caption_entities")),
        reply_to_message_id=_reply_to(raw.get("reply_to_message")),
    )


def _reply_to(raw: Any) -> int | None:
    if isinstance(raw, dict) and isinstance(raw.get("message_id"), int):
        return int(raw["message_id"])
    return None


def _callback(update_id: int, raw: dict[str, Any]) -> CallbackQuery | None:
    message = raw.get("message")
    if message is None:  # a button under an inline-mode message: not ours
        return None
    return CallbackQuery(
        update_id=update_id,
        id=str(raw["id"]),
        sender=parse_user(raw["from"]),
        chat_id=int(message["chat"]["id"]),
        message_id=int(message["message_id"]),
        data=str(raw.get("data") or ""),
    )


def _member_change(update_id: int, raw: dict[str, Any]) -> ChatMemberChange:
    new = raw["new_chat_member"]
    return ChatMemberChange(
        update_id=update_id,
        chat=parse_chat(raw["chat"]),
        user=parse_user(new["user"]),
        old_status=parse_status(raw["old_chat_member"]["status"]),
        new_status=parse_status(new["status"]),
    )


def _bot_blocked(update_id: int, raw: dict[str, Any]) -> BotBlocked | None:
    if raw["chat"].get("type") != "private":  # the bot added to or removed from a group: not modelled
        return None
    status = raw["new_chat_member"]["status"]
    if status not in ("kicked", "member"):
        return None
    return BotBlocked(update_id=update_id, user=parse_user(raw["from"]), blocked=status == "kicked")


def _inline_query(update_id: int, raw: dict[str, Any]) -> InlineQuery:
    return InlineQuery(
        update_id=update_id,
        id=str(raw["id"]),
        sender=parse_user(raw["from"]),
        query=str(raw.get("query") or ""),
        chat_type=raw.get("chat_type"),
    )


def _chosen(update_id: int, raw: dict[str, Any]) -> ChosenInlineResult:
    return ChosenInlineResult(
        update_id=update_id,
        result_id=str(raw["result_id"]),
        sender=parse_user(raw["from"]),
        query=str(raw.get("query") or ""),
        inline_message_id=raw.get("inline_message_id"),
    )


def parse_update(raw: dict[str, Any]) -> Update | None:
    """One Bot API update as a port update; None for kinds the bot does not handle."""
    update_id = int(raw["update_id"])
    try:
        if "message" in raw:
            return _message(update_id, raw["message"])
        if "callback_query" in raw:
            return _callback(update_id, raw["callback_query"])
        if "chat_member" in raw:
            return _member_change(update_id, raw["chat_member"])
        if "my_chat_member" in raw:
            return _bot_blocked(update_id, raw["my_chat_member"])
        if "inline_query" in raw:
            return _inline_query(update_id, raw["inline_query"])
        if "chosen_inline_result" in raw:
            return _chosen(update_id, raw["chosen_inline_result"])
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("skipping malformed update %d: %s %s", update_id, type(exc).__name__, exc)
    return None
