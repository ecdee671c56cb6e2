"""Text formatting and inline keyboards, checked the way the Bot API checks them."""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.entities import Entity, detect, sort_entities, strip_text
from sandbox.errors import bad_request
from sandbox.html_text import parse_html

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTON_TEXT_CHARS = 64 * 4
# Fields of InlineKeyboardButton that give a button its action; exactly one is required.
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
ENTITY_TYPES = frozenset(
    [
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    ]
)
_BUTTON_URL = re.compile(r"(?i)^(?:https?|tg)://\S+$")
BAD_MARKUP = "can't parse reply keyboard markup JSON object"


def format_text(text: str, parse_mode: str | None, entities: Any = None) -> tuple[str, list[Entity]]:
    """Plain text and entities of what the bot sent, after Telegram's parsing and trimming."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        plain, found = parse_html(text)
    elif mode == "":
        plain, found = text, given_entities(entities, text)
    elif mode in ("markdown", "markdownv2"):
        plain, found = text, []  # not modelled: the text is kept as sent
    else:
        raise bad_request("unsupported parse_mode")
    plain, found = strip_text(plain, found)
    return plain, detect(plain, found)


def given_entities(raw: Any, text: str) -> list[Entity]:
    """`entities` / `caption_entities` passed explicitly instead of a parse mode."""
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad_request("can't parse entities JSON object") from None
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    entities = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in ENTITY_TYPES:
            raise bad_request("can't parse entities JSON object")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
            raise bad_request("can't parse entities JSON object")
        entities.append({k: v for k, v in item.items() if k in ("type", "offset", "length", "url", "language")})
    return sort_entities(entities)


def check_length(plain: str, *, caption: bool) -> None:
    if caption:
        if len(plain) > MAX_CAPTION_CHARS:
            raise bad_request("message caption is too long")
        return
    if not plain:
        raise bad_request("message text is empty")
    if len(plain) > MAX_TEXT_CHARS:
        raise bad_request("message is too long")


def inline_keyboard(raw: Any) -> dict[str, Any] | None:
    """The inline keyboard of a `reply_markup` (object or JSON text), normalised; None when there is none.

    Reply keyboards, ReplyKeyboardRemove and ForceReply are accepted but, as in Telegram's answer,
    never appear in `Message.reply_markup`.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad_request(BAD_MARKUP) from None
    if not isinstance(raw, dict):
        raise bad_request(BAD_MARKUP)
    if "inline_keyboard" not in raw:
        if any(key in raw for key in ("keyboard", "remove_keyboard", "force_reply")):
            return None
        raise bad_request(BAD_MARKUP)
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    keyboard = [[_button(button) for button in row] for row in rows]
    keyboard = [row for row in keyboard if row]
    return {"inline_keyboard": keyboard} if keyboard else None


def _button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request('can\'t find field "text"')
    if len(button["text"]) > MAX_BUTTON_TEXT_CHARS:
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data", "-")
    if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not (isinstance(button["url"], str) and _BUTTON_URL.match(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")
    return {"text": button["text"], **{key: button[key] for key in actions}}
