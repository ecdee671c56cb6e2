"""The fake Telegram's albums and inline mode: the RPCs kurigram's send_media_group,
answer_inline_query and edit_inline_* make, and what a user does in inline mode.

- `messages.uploadMedia` stores an uploaded file and answers its media (send_media_group uploads
  each item so, then sends them by id); `messages.sendMultiMedia` sends 1-10 items as messages
  sharing a `grouped_id`, documents only with documents, audios only with audios.
- A user's inline query reaches the bot as `updateBotInlineQuery` (not in the pts stream: like a
  button press, it is not fetched again after a restart). `messages.setInlineBotResults` keeps
  the answer; the user's choice lands in the user's chat with a friend and reaches the bot as
  `updateBotInlineSend`, with a `msg_id` only when the result has a keyboard.
- `messages.editInlineBotMessage` edits that message (text, keyboard, or media by id).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import trio
from pyrogram import raw, utils

from tests.contract.fake_mtproto_client import FAKE_DC, FakeSession, RpcFailure
from tests.contract.fake_mtproto_model import FakeMessage, InlineAsk, StoredFile
from tests.contract.fake_mtproto_rpc import (
    CAPTION_MAX,
    _media_file,
    _reply_to,
    _sent,
    _writable_user,
    handles,
    utf16_len,
)
from tests.contract.world import ChatRecord

if TYPE_CHECKING:
    from tests.contract.fake_mtproto import FakeTelegram

ALBUM_MAX = 10
FRIEND_ID = 7_000_009  # the other side of every user's chat with a friend


def _random_id() -> int:
    return int.from_bytes(os.urandom(8), "big") >> 1


# ---- albums --------------------------------------------------------------------------------------


@handles(raw.functions.messages.UploadMedia)
async def upload_media(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    stored = _media_file(server, account, q.media)
    return server.raw_media(stored)


@handles(raw.functions.messages.SendMultiMedia)
async def send_multi_media(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    user_id = _writable_user(server, account, q.peer)
    if not 1 <= len(q.multi_media) <= ALBUM_MAX:
        raise RpcFailure(400, "MULTI_MEDIA_TOO_LONG")
    reply = _reply_to(server, account, user_id, q.reply_to)
    items = []
    for single in q.multi_media:
        if utf16_len(single.message) > CAPTION_MAX:
            raise RpcFailure(400, "MEDIA_CAPTION_TOO_LONG")
        items.append((single, _media_file(server, account, single.media)))
    kinds = {stored.kind for _, stored in items}
    if len(kinds) > 1 and kinds & {"document", "audio"}:
        raise RpcFailure(400, "MEDIA_INVALID")
    grouped = _random_id() if len(items) > 1 else None
    pairs = []
    for single, stored in items:
        message = server.add_message(
            account,
            user_id,
            out=True,
            text=single.message,
            entities=list(single.entities or []),
            file=stored,
            reply_to=reply,
            grouped_id=grouped,
        )
        pairs.append((message, single.random_id))
    return _sent(server, account, user_id, pairs)


# ---- inline mode -------------------------------------------------------------------------------------


@handles(raw.functions.messages.SetInlineBotResults)
async def set_inline_bot_results(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    asked = server.inline_asks.get(q.query_id)
    if asked is None or asked.answered:
        raise RpcFailure(400, "QUERY_ID_INVALID")
    if len(q.results) > 50:
        raise RpcFailure(400, "RESULTS_TOO_MUCH")
    results: dict[str, Any] = {}
    for result in q.results:
        if result.id in results:
            raise RpcFailure(400, "RESULT_ID_DUPLICATE")
        if not isinstance(result, raw.types.InputBotInlineResult):  # a file: the bot's own, by id
            media = getattr(result, "document", None) or getattr(result, "photo", None)
            found = server.files.get(getattr(media, "id", 0))
            if found is None or found.owner != account or found.access_hash != getattr(media, "access_hash", None):
                raise RpcFailure(400, "MEDIA_EMPTY")
        results[result.id] = result
    asked.answered, asked.results = True, results
    return True


def _file_of(server: FakeTelegram, result: Any) -> StoredFile | None:
    media = getattr(result, "document", None) or getattr(result, "photo", None)
    return server.files.get(getattr(media, "id", 0)) if media is not None else None


def _inline_message(server: FakeTelegram, msg_id: Any) -> FakeMessage:
    for chat in server.inline_chats.values():
        for message in chat:
            if message.id == getattr(msg_id, "id", None) and server.access_hash(message.owner, message.id) == getattr(
                msg_id, "access_hash", None
            ):
                return message
    raise RpcFailure(400, "MESSAGE_ID_INVALID")


def _shown(message: FakeMessage) -> tuple[Any, ...]:
    """What a user sees of a message, to tell an edit that changes nothing."""
    wire = [b"" if item is None else item.write() for item in (*message.entities, message.markup)]
    return message.file, message.start_timestamp, message.text, wire


@handles(raw.functions.messages.EditInlineBotMessage)
async def edit_inline_bot_message(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    message = _inline_message(server, q.id)
    before = _shown(message)
    if q.media is not None:
        message.file = _media_file(server, account, q.media)
        message.start_timestamp = getattr(q.media, "video_timestamp", None)
    if q.message is not None:
        message.text, message.entities = q.message, list(q.entities or [])
    message.markup = q.reply_markup
    if _shown(message) == before:
        raise RpcFailure(400, "MESSAGE_NOT_MODIFIED")
    message.edit_count += 1
    return True


async def user_types(server: FakeTelegram, user_id: int, query: str) -> str:
    await trio.lowlevel.checkpoint()
    server._user(user_id)
    query_id = _random_id()
    server.inline_asks[query_id] = InlineAsk(query_id, user_id, query)
    update = raw.types.UpdateBotInlineQuery(
        query_id=query_id,
        user_id=user_id,
        query=query,
        offset="",
        peer_type=raw.types.InlineQueryPeerTypePM(),
    )
    server.push(update, users=[user_id])
    return str(query_id)


def _latest(server: FakeTelegram, user_id: int) -> InlineAsk | None:
    asks = [a for a in server.inline_asks.values() if a.user_id == user_id]
    return asks[-1] if asks else None


async def results_of(server: FakeTelegram, user_id: int) -> list[str]:
    await trio.lowlevel.checkpoint()
    asked = _latest(server, user_id)
    return list(asked.results) if asked is not None and asked.answered else []


async def user_chooses(server: FakeTelegram, user_id: int, result_id: str) -> str | None:
    await trio.lowlevel.checkpoint()
    asked = _latest(server, user_id)
    if asked is None or not asked.answered or result_id not in asked.results:
        raise AssertionError(f"user {user_id} cannot choose {result_id!r}: the bot offered {asked}")
    result = asked.results[result_id]
    send = result.send_message
    chat = server.inline_chats.setdefault(user_id, [])
    message = FakeMessage(
        len(chat) + 1,
        user_id,
        FRIEND_ID,
        out=True,
        date=server.now(),
        text=send.message,
        entities=list(send.entities or []),
        markup=send.reply_markup,
        file=None if isinstance(send, raw.types.InputBotInlineMessageText) else _file_of(server, result),
        via_bot=True,
    )
    chat.append(message)
    msg_id = None
    if send.reply_markup is not None:
        access = server.access_hash(user_id, message.id)
        msg_id = raw.types.InputBotInlineMessageID(dc_id=FAKE_DC, id=message.id, access_hash=access)
    update = raw.types.UpdateBotInlineSend(user_id=user_id, query=asked.query, id=result_id, msg_id=msg_id)
    server.push(update, users=[user_id])
    return None if msg_id is None else str(utils.pack_inline_message_id(msg_id))


async def target_chat(server: FakeTelegram, user_id: int) -> list[ChatRecord]:
    await trio.lowlevel.checkpoint()
    return [server.record(m) for m in server.inline_chats.get(user_id, [])]
