"""Bot API methods on text messages: sendMessage, the edits, deleteMessage, copyMessage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sandbox import render
from sandbox.context import Sandbox
from sandbox.errors import NOT_MODIFIED, bad_request
from sandbox.markup import check_length, format_text, inline_keyboard
from sandbox.model import Chat, Message
from sandbox.params import Params
from sandbox.world import now

Handler = Callable[[Sandbox, Params], Awaitable[Any]]


def require_chat_id(p: Params) -> int | str:
    ref = p.chat_id()
    if ref is None:
        raise bad_request("chat_id is empty")
    return ref


def parse_mode_of(p: Params) -> str | None:
    mode = p.text("parse_mode")
    return mode.strip() if mode and mode.strip() else None


def reply_target(chat: Chat, p: Params) -> int | None:
    """The message replied to (reply_parameters or the older reply_to_message_id), if it exists."""
    params = p.json("reply_parameters")
    if params is not None:
        if not isinstance(params, dict) or "message_id" not in params:
            raise bad_request("can't parse reply parameters JSON object")
        try:
            message_id = int(params["message_id"])
        except (TypeError, ValueError):
            raise bad_request("can't parse reply parameters JSON object") from None
        allow_missing = bool(params.get("allow_sending_without_reply"))
    else:
        message_id = p.integer("reply_to_message_id") or 0
        allow_missing = p.flag("allow_sending_without_reply")
    if not message_id:
        return None
    target = chat.messages.get(message_id)
    if target is None or target.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return message_id


def formatted(p: Params, name: str, entities_name: str, *, caption: bool) -> tuple[str, list[dict[str, Any]]]:
    plain, entities = format_text(p.text(name) or "", parse_mode_of(p), p.raw(entities_name))
    check_length(plain, caption=caption)
    return plain, entities


async def send_message(sb: Sandbox, p: Params) -> Any:
    ref = require_chat_id(p)
    plain, entities = formatted(p, "text", "entities", caption=False)
    markup = inline_keyboard(p.json("reply_markup"))
    chat = sb.world.writable(ref)
    reply_to = reply_target(chat, p)
    sb.admit_send(chat)
    msg = sb.post(
        chat,
        text=plain,
        entities=entities,
        source=p.text("text"),
        parse_mode=parse_mode_of(p),
        reply_markup=markup,
        reply_to=reply_to,
    )
    return render.message(sb.world, msg)


def edited(sb: Sandbox, chat: Chat, msg: Message) -> Any:
    """The answer to an edit: the message, or True for an inline message (the bot has no chat of it)."""
    msg.edit_count += 1
    msg.edit_date = now()
    sb.world.notify_chat(chat)
    if msg.via_bot:
        return True
    return render.message(sb.world, msg)


def edit_target(sb: Sandbox, p: Params) -> tuple[Chat, Message]:
    """The message an edit names: chat_id and message_id, or inline_message_id (a message sent
    through the bot's inline mode, which only it names)."""
    if p.has("inline_message_id"):
        found = sb.world.inline.find(p.text("inline_message_id") or "")
        if found is None:
            raise bad_request("MESSAGE_ID_INVALID")
        return found
    chat = sb.world.writable(require_chat_id(p))
    return chat, sb.world.bot_message_to_edit(chat, p.integer("message_id"))


async def edit_message_text(sb: Sandbox, p: Params) -> Any:
    chat, msg = edit_target(sb, p)
    if msg.media is not None:
        raise bad_request("there is no text in the message to edit")
    plain, entities = formatted(p, "text", "entities", caption=False)
    markup = inline_keyboard(p.json("reply_markup"))
    if (plain, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    sb.admit_send(chat)
    msg.text, msg.entities, msg.reply_markup = plain, entities, markup
    msg.source, msg.parse_mode = p.text("text"), parse_mode_of(p)
    return edited(sb, chat, msg)


async def edit_message_caption(sb: Sandbox, p: Params) -> Any:
    chat, msg = edit_target(sb, p)
    if msg.media is None:
        raise bad_request("there is no caption in the message to edit")
    plain, entities = formatted(p, "caption", "caption_entities", caption=True)
    markup = inline_keyboard(p.json("reply_markup"))
    if (plain, entities, markup) == (msg.caption or "", msg.entities, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    sb.admit_send(chat)
    msg.caption, msg.entities, msg.reply_markup = plain, entities, markup
    msg.source, msg.parse_mode = p.text("caption"), parse_mode_of(p)
    return edited(sb, chat, msg)


async def edit_message_reply_markup(sb: Sandbox, p: Params) -> Any:
    chat, msg = edit_target(sb, p)
    markup = inline_keyboard(p.json("reply_markup"))
    if markup == msg.reply_markup:
        raise bad_request(NOT_MODIFIED)
    sb.admit_send(chat)
    msg.reply_markup = markup
    return edited(sb, chat, msg)


async def delete_message(sb: Sandbox, p: Params) -> Any:
    chat = sb.world.resolve(require_chat_id(p))
    msg = chat.messages.get(p.integer("message_id") or 0)
    if msg is None or msg.deleted:
        raise bad_request("message to delete not found")
    if chat.type != "private" and not chat.bot_is_admin:
        raise bad_request("message can't be deleted")
    msg.deleted = True
    if chat.type == "private":
        sb.world.notify(chat.id)
    return True


async def copy_message(sb: Sandbox, p: Params) -> Any:
    source_chat = sb.world.resolve(p.chat_id("from_chat_id"))
    source = source_chat.messages.get(p.integer("message_id") or 0)
    if source is None or source.deleted:
        raise bad_request("message to copy not found")
    ref = require_chat_id(p)
    text, caption, entities, origin = source.text, source.caption, source.entities, source.source
    if source.media is not None and p.has("caption"):
        caption, entities = formatted(p, "caption", "caption_entities", caption=True)
        origin = p.text("caption")
    markup = inline_keyboard(p.json("reply_markup"))
    chat = sb.world.writable(ref)
    reply_to = reply_target(chat, p)
    sb.admit_send(chat)
    copy = sb.post(
        chat,
        text=text,
        caption=caption,
        entities=list(entities),
        source=origin,
        parse_mode=source.parse_mode,
        media=source.media,
        supports_streaming=source.supports_streaming,
        reply_markup=markup,
        reply_to=reply_to,
    )
    sb.stats.copies_per_chat[chat.id] += 1
    return {"message_id": copy.message_id}


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "copyMessage": copy_message,
}
