"""kurigram's exceptions turned into the port's typed errors.

pyrogram raises one class per RPC error (`pyrogram.errors.FloodWait`, `UserIsBlocked`, ...),
several of them twice (a 400 and a 403 flavour of `USER_IS_BLOCKED`), so the mapping goes by the
error's Telegram ID (`exc.ID`), which both flavours share, and falls back to the HTTP-like code.
"""

from __future__ import annotations

import asyncio

from pyrogram import errors
from python_socks import ProxyError

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

BLOCKED_IDS = frozenset({"USER_IS_BLOCKED", "INPUT_USER_DEACTIVATED", "USER_DEACTIVATED_BAN", "BOT_BLOCKED"})
CHAT_NOT_FOUND_IDS = frozenset(
    {
        "CHANNEL_INVALID",
        "CHANNEL_PRIVATE",
        "CHAT_ID_INVALID",
        "PEER_ID_INVALID",
        "USERNAME_NOT_OCCUPIED",
        "USERNAME_INVALID",
        "CHAT_INVALID",
    }
)
NOT_MODIFIED_IDS = frozenset({"MESSAGE_NOT_MODIFIED"})
# The message named is gone, or no longer the bot's to edit or delete (the Bot API's "message to
# edit not found", "message can't be deleted", ...).
MESSAGE_GONE_IDS = frozenset(
    e.ID
    for e in (errors.MessageIdInvalid, errors.MessageDeleteForbidden, errors.MessageEditTimeExpired,
              errors.MessageAuthorRequired)
)  # fmt: skip
# The file_id's document or photo is not one this bot may send (another bot's, or gone), or its
# file reference expired: the file must be uploaded again.
STALE_FILE_ID_IDS = frozenset(
    e.ID
    for e in (errors.MediaEmpty, errors.FileIdInvalid, errors.FileReferenceEmpty, errors.FileReferenceExpired,
              errors.FileReferenceInvalid, errors.FileReferenceEmptyX, errors.FileReferenceExpiredX,
              errors.FileReferenceInvalidX)
)  # fmt: skip
TOO_LARGE_IDS = frozenset({"FILE_PARTS_INVALID", "FILE_PART_TOO_BIG", "FILE_PART_SIZE_INVALID", "MEDIA_FILE_INVALID"})
CHAT_SCOPED_WAIT_IDS = frozenset({"SLOWMODE_WAIT_X"})
# pyrogram's save_file refuses oversized files itself, before any byte goes out, with this text.
TOO_BIG_TEXT = "Can't upload files bigger than"


def translate(exc: BaseException, *, to_user: bool = False) -> BaseException:
    """The port error for `exc`, or `exc` itself when it is not Telegram's doing.

    `to_user` says the call addressed a user's private chat: there PEER_ID_INVALID means the
    bot can no longer reach that user (they blocked it or deleted the account), as the Bot API
    reports it, rather than a chat that never existed.
    """
    if isinstance(exc, TelegramError):
        return exc
    if isinstance(exc, errors.RPCError):
        return _from_rpc(exc, to_user=to_user)
    if isinstance(exc, ValueError) and TOO_BIG_TEXT in str(exc):
        return TooLarge(str(exc))
    if isinstance(exc, (OSError, TimeoutError, asyncio.TimeoutError, ConnectionError, ProxyError)):
        return Transient(f"{type(exc).__name__}: {exc}")
    return exc


def _from_rpc(exc: errors.RPCError, *, to_user: bool) -> TelegramError:
    ident = str(exc.ID or exc.NAME or "")
    if isinstance(exc, errors.Flood) or ident in CHAT_SCOPED_WAIT_IDS:
        seconds = exc.value if isinstance(exc.value, int) else 0
        return FloodWait(float(seconds), "chat" if ident in CHAT_SCOPED_WAIT_IDS else "global")
    if ident in BLOCKED_IDS or (to_user and ident == "PEER_ID_INVALID"):
        return Blocked(ident)
    if ident in CHAT_NOT_FOUND_IDS:
        return ChatNotFound(ident)
    if ident in NOT_MODIFIED_IDS:
        return NotModified(ident)
    if ident in MESSAGE_GONE_IDS:
        return MessageGone(ident)
    if ident in STALE_FILE_ID_IDS:
        return StaleFileId(ident)
    if ident in TOO_LARGE_IDS:
        return TooLarge(ident)
    code = exc.CODE or 0
    if code >= 500 or isinstance(exc, (errors.InternalServerError, errors.ServiceUnavailable)):
        return Transient(ident or str(exc))
    return BadRequest(ident or str(exc))
