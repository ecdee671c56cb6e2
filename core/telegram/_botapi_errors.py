"""Bot API error answers turned into the port's typed errors.

Telegram answers `{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`.
The description is matched in lower case because its wording differs between the cloud, the
self-hosted server and older versions ("Bad Request: chat not found", "PARTICIPANT_ID_INVALID").
"""

from __future__ import annotations

from typing import Any

from core.telegram.port import (
    BadRequest,
    Blocked,
    ChatNotFound,
    FloodWait,
    MessageGone,
    NotModified,
    StaleFileId,
    TelegramError,
    TooLarge,
    Transient,
)

# 403 descriptions that mean "this user will not hear from the bot".
BLOCKED_HINTS = ("blocked", "deactivated", "can't initiate", "bots can't send messages to bots")
# 400 descriptions that mean "no such chat or user, as far as the bot can see".
NOT_FOUND_HINTS = ("chat not found", "user not found", "participant_id_invalid", "member not found", "peer_id_invalid")
TOO_LARGE_HINTS = ("file is too big", "too large", "entity too large")
# 400 descriptions that mean "the message named is gone, or no longer the bot's to change".
MESSAGE_GONE_HINTS = (
    "message to edit not found",
    "message to delete not found",
    "message to copy not found",
    "message to forward not found",
    "message can't be deleted",
    "message can't be edited",
    "message_id_invalid",
)
# 400 descriptions that mean "this file_id is no good (any more)": upload the file again.
STALE_FILE_HINTS = ("wrong file identifier", "wrong remote file identifier", "file reference", "file_reference",
                    "file_id", "media_empty")  # fmt: skip
DEFAULT_RETRY_AFTER = 1.0  # a 429 without parameters.retry_after still means "wait"


def error_from(method: str, status: int, body: dict[str, Any] | None) -> TelegramError:
    """The typed error for a failed call; `body` is the JSON answer when there was one."""
    body = body or {}
    code = int(body.get("error_code") or status)
    description = str(body.get("description") or f"HTTP {status}")
    text = description.lower()
    parameters = body.get("parameters") or {}
    if code == 429 or status == 429:
        # The Bot API does not say which limit was hit (bot, chat or group): pausing every send
        # is the reading that cannot earn a second 429.
        return FloodWait(float(parameters.get("retry_after") or DEFAULT_RETRY_AFTER), "global")
    if code >= 500 or status >= 500:
        return Transient(f"{method}: {description}")
    if code == 413 or any(hint in text for hint in TOO_LARGE_HINTS):
        return TooLarge(f"{method}: {description}")
    if "message is not modified" in text:
        return NotModified(description)
    if any(hint in text for hint in MESSAGE_GONE_HINTS):
        return MessageGone(f"{method}: {description}")
    if any(hint in text for hint in STALE_FILE_HINTS):
        return StaleFileId(f"{method}: {description}")
    if code == 403:
        if any(hint in text for hint in BLOCKED_HINTS):
            return Blocked(description)
        return ChatNotFound(description)  # kicked from the group, not a member of the channel
    if any(hint in text for hint in NOT_FOUND_HINTS):
        return ChatNotFound(description)
    if code == 409:  # another getUpdates is running (a receiver that is still shutting down)
        return Transient(f"{method}: {description}")
    return BadRequest(f"{method}: {description}")
