"""The raw TL functions the fake Telegram answers, one handler each.

A handler gets the server, the calling session, the account logged in on it (None before the bot
logs in) and the parsed request, and returns a raw TL result or raises `RpcFailure(code, ID)`,
which the session turns into kurigram's real RPC error. Telegram's rules that the contract suite
relies on are checked here: access hashes, who may be written to, edits that change nothing,
flood waits (in `FakeTelegram.call`), uploads complete and whole before they are sent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from pyrogram import raw

from tests.contract.fake_mtproto_client import FakeSession, RpcFailure
from tests.contract.fake_mtproto_model import (
    BOT_ID,
    OWNER_ID,
    PREMIUM_ID,
    FakeChannel,
    FakeMessage,
    StoredFile,
    Upload,
)

if TYPE_CHECKING:
    from tests.contract.fake_mtproto import FakeTelegram

PART_SIZE_MAX = 512 * 1024
BOT_PARTS_MAX = 4000  # 2000 MiB in 512 KiB parts
PREMIUM_PARTS_MAX = 8000
TEXT_MAX = 4096
CAPTION_MAX = 1024

Handler = Callable[["FakeTelegram", FakeSession, Any, Any], Awaitable[Any]]
HANDLERS: dict[type, Handler] = {}


def handles(function: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[function] = handler
        return handler

    return register


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _ids() -> int:
    return int.from_bytes(os.urandom(8), "big") >> 1


# ---- peers ---------------------------------------------------------------------------------------


def _peer_user(server: FakeTelegram, account: int, peer: Any) -> int:
    if isinstance(peer, (raw.types.InputPeerSelf, raw.types.InputUserSelf)):
        return account
    if isinstance(peer, (raw.types.InputPeerUser, raw.types.InputUser)):
        user = server.users.get(peer.user_id)
        if user is None or peer.access_hash != server.access_hash(account, peer.user_id):
            raise RpcFailure(400, "PEER_ID_INVALID")
        return user.id
    if isinstance(peer, raw.types.InputPeerChannel):
        raise RpcFailure(403, "CHAT_WRITE_FORBIDDEN")
    raise RpcFailure(400, "PEER_ID_INVALID")


def _writable_user(server: FakeTelegram, account: int, peer: Any) -> int:
    """The user a send goes to, if the account may write to them."""
    user_id = _peer_user(server, account, peer)
    user = server.users[user_id]
    if account == BOT_ID and user.blocked_bot:
        raise RpcFailure(403, "USER_IS_BLOCKED")
    if account == BOT_ID and not user.started_bot:
        raise RpcFailure(400, "PEER_ID_INVALID")  # a bot cannot start a conversation
    return user_id


def _reply_to(server: FakeTelegram, account: int, user_id: int, reply: Any) -> int | None:
    if not isinstance(reply, raw.types.InputReplyToMessage):
        return None
    if not any(m.id == reply.reply_to_msg_id and not m.deleted for m in server.chat_of(account, user_id)):
        raise RpcFailure(400, "REPLY_MESSAGE_ID_INVALID")
    return int(reply.reply_to_msg_id)


def _new_message(server: FakeTelegram, message: FakeMessage, pts: int) -> Any:
    return raw.types.UpdateNewMessage(message=server.raw_message(message), pts=pts, pts_count=1)


def _sent(server: FakeTelegram, account: int, user_id: int, pairs: list[tuple[FakeMessage, int]]) -> Any:
    updates: list[Any] = []
    for message, random_id in pairs:
        new = server.log_pts(account, partial(_new_message, server, message))
        updates += [raw.types.UpdateMessageID(id=message.id, random_id=random_id), new]
    users = [server.raw_user(u, viewer=account) for u in {account, user_id}]
    return raw.types.Updates(updates=updates, users=users, chats=[], date=server.now(), seq=0)


# ---- login, identity, state -------------------------------------------------------------------------


@handles(raw.functions.auth.ImportBotAuthorization)
async def import_bot_authorization(server: FakeTelegram, session: FakeSession, account: Any, q: Any) -> Any:
    if not q.api_id or not q.api_hash:
        raise RpcFailure(400, "API_ID_INVALID")
    if q.bot_auth_token != server.token:
        raise RpcFailure(400, "ACCESS_TOKEN_INVALID")
    server.auth_keys[session.auth_key] = BOT_ID
    server.logins += 1
    return raw.types.auth.Authorization(user=server.raw_user(BOT_ID, viewer=BOT_ID))


@handles(raw.functions.updates.GetState)
async def get_state(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    acc = server.accounts[account]
    return raw.types.updates.State(pts=acc.pts, qts=acc.qts, date=server.now(), seq=0, unread_count=0)


@handles(raw.functions.users.GetFullUser)
async def get_full_user(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    user_id = _peer_user(server, account, q.id)
    full = raw.types.UserFull(
        id=user_id,
        settings=raw.types.PeerSettings(),
        notify_settings=raw.types.PeerNotifySettings(),
        common_chats_count=0,
    )
    return raw.types.users.UserFull(full_user=full, chats=[], users=[server.raw_user(user_id, viewer=account)])


@handles(raw.functions.users.GetUsers)
async def get_users(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    found = []
    for wanted in q.id:
        if isinstance(wanted, raw.types.InputUserSelf):
            found.append(server.raw_user(account, viewer=account))
            continue
        user = server.users.get(getattr(wanted, "user_id", 0))
        if user is None or wanted.access_hash not in (0, server.access_hash(account, user.id)):
            continue
        if account == BOT_ID and not (user.started_bot or user.bot):
            continue  # a bot sees only users who wrote to it
        found.append(server.raw_user(user.id, viewer=account))
    return found


@handles(raw.functions.updates.GetDifference)
async def get_difference(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    acc = server.accounts[account]
    new_messages, other = [], []
    for pts, update in acc.log:
        if pts <= q.pts:
            continue
        if isinstance(update, raw.types.UpdateNewMessage):
            new_messages.append(update.message)
        else:
            other.append(update)
    if q.qts > 0:  # kurigram asks with qts=0: blocks and member changes are not caught up
        other += [update for qts, update in acc.qts_log if qts > q.qts]
    if not new_messages and not other:
        return raw.types.updates.DifferenceEmpty(date=server.now(), seq=0)
    return raw.types.updates.Difference(
        new_messages=new_messages,
        new_encrypted_messages=[],
        other_updates=other,
        chats=[server.raw_channel(c) for c in server.channels.values()],
        users=[server.raw_user(u, viewer=account) for u in server.users],
        state=raw.types.updates.State(pts=acc.pts, qts=acc.qts, date=server.now(), seq=0, unread_count=0),
    )


@handles(raw.functions.updates.GetChannelDifference)
async def get_channel_difference(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    return raw.types.updates.ChannelDifferenceEmpty(pts=q.pts, final=True)  # the fake keeps no channel posts


# ---- messages --------------------------------------------------------------------------------------


@handles(raw.functions.messages.SendMessage)
async def send_message(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    user_id = _writable_user(server, account, q.peer)
    if not q.message.strip():
        raise RpcFailure(400, "MESSAGE_EMPTY")
    if utf16_len(q.message) > TEXT_MAX:
        raise RpcFailure(400, "MESSAGE_TOO_LONG")
    reply = _reply_to(server, account, user_id, q.reply_to)
    entities = list(q.entities or [])
    message = server.add_message(
        account, user_id, out=True, text=q.message, entities=entities, markup=q.reply_markup, reply_to=reply
    )
    update = server.log_pts(account, partial(_new_message, server, message))
    return raw.types.UpdateShortSentMessage(
        id=message.id, pts=update.pts, pts_count=1, date=message.date, out=True, entities=q.entities or None
    )


@handles(raw.functions.messages.SendMedia)
async def send_media(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    user_id = _writable_user(server, account, q.peer)
    if utf16_len(q.message) > CAPTION_MAX:
        raise RpcFailure(400, "MEDIA_CAPTION_TOO_LONG")
    reply = _reply_to(server, account, user_id, q.reply_to)
    stored = _media_file(server, account, q.media)
    message = server.add_message(
        account,
        user_id,
        out=True,
        text=q.message,
        entities=list(q.entities or []),
        markup=q.reply_markup,
        file=stored,
        reply_to=reply,
        start_timestamp=getattr(q.media, "video_timestamp", None),
    )
    return _sent(server, account, user_id, [(message, q.random_id)])


@handles(raw.functions.messages.EditMessage)
async def edit_message(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    user_id = _peer_user(server, account, q.peer)
    message = next((m for m in server.chat_of(account, user_id) if m.id == q.id and not m.deleted), None)
    if message is None:
        raise RpcFailure(400, "MESSAGE_ID_INVALID")
    if not message.out:
        raise RpcFailure(403, "MESSAGE_AUTHOR_REQUIRED")
    text = message.text if q.message is None else q.message
    entities = message.entities if q.message is None else list(q.entities or [])
    if q.message is not None and not text.strip() and q.media is None:
        raise RpcFailure(400, "MESSAGE_EMPTY")
    stored = _media_file(server, account, q.media) if q.media is not None else message.file
    if (
        text == message.text
        and _same(entities, message.entities)
        and _same([q.reply_markup], [message.markup])
        and stored is message.file
    ):
        raise RpcFailure(400, "MESSAGE_NOT_MODIFIED")
    message.text, message.entities, message.markup, message.file = text, entities, q.reply_markup, stored
    if q.media is not None:
        message.start_timestamp = getattr(q.media, "video_timestamp", None)
    message.edit_count += 1
    update = server.log_pts(
        account, lambda pts: raw.types.UpdateEditMessage(message=server.raw_message(message), pts=pts, pts_count=1)
    )
    users = [server.raw_user(user_id, viewer=account)]
    return raw.types.Updates(updates=[update], users=users, chats=[], date=server.now(), seq=0)


def _same(a: list[Any], b: list[Any]) -> bool:
    def wire(items: list[Any]) -> list[bytes]:
        return [b"" if item is None else item.write() for item in items]

    return wire(a) == wire(b)


@handles(raw.functions.messages.DeleteMessages)
async def delete_messages(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    deleted = []
    for message_id in q.id:
        message = server.find_message(account, message_id)
        if message is not None:
            message.deleted = True
            deleted.append(message_id)
    if not deleted:
        return raw.types.messages.AffectedMessages(pts=server.accounts[account].pts, pts_count=0)
    update = server.log_pts(
        account,
        lambda pts: raw.types.UpdateDeleteMessages(messages=deleted, pts=pts, pts_count=len(deleted)),
        count=len(deleted),
    )
    return raw.types.messages.AffectedMessages(pts=update.pts, pts_count=len(deleted))


@handles(raw.functions.messages.ForwardMessages)
async def forward_messages(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    source = _peer_user(server, account, q.from_peer)
    target = _writable_user(server, account, q.to_peer)
    pairs = []
    for message_id, random_id in zip(q.id, q.random_id, strict=True):
        original = next((m for m in server.chat_of(account, source) if m.id == message_id and not m.deleted), None)
        if original is None:
            raise RpcFailure(400, "MESSAGE_ID_INVALID")
        copy = server.add_message(
            account, target, out=True, text=original.text, entities=list(original.entities), file=original.file
        )
        pairs.append((copy, random_id))
    return _sent(server, account, target, pairs)


@handles(raw.functions.messages.GetMessages)
async def get_messages(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    found: list[Any] = []
    for wanted in q.id:
        message_id = getattr(wanted, "id", 0)
        message = server.find_message(account, message_id)
        found.append(server.raw_message(message) if message else raw.types.MessageEmpty(id=message_id))
    users = [server.raw_user(u, viewer=account) for u in server.users]
    return raw.types.messages.Messages(messages=found, topics=[], chats=[], users=users)


@handles(raw.functions.messages.SetBotCallbackAnswer)
async def set_bot_callback_answer(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    callback = server.callbacks.get(q.query_id)
    if callback is None or callback["answered"]:
        raise RpcFailure(400, "QUERY_ID_INVALID")
    callback.update(answered=True, text=q.message, alert=bool(q.alert))
    return True


# ---- channels --------------------------------------------------------------------------------------


@handles(raw.functions.contacts.ResolveUsername)
async def resolve_username(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    channel = server.channel_by_username(q.username)
    if channel is not None:
        peer = raw.types.PeerChannel(channel_id=channel.id)
        return raw.types.contacts.ResolvedPeer(peer=peer, chats=[server.raw_channel(channel)], users=[])
    user = next((u for u in server.users.values() if (u.username or "").lower() == q.username.lower()), None)
    if user is None:
        raise RpcFailure(400, "USERNAME_NOT_OCCUPIED")
    return raw.types.contacts.ResolvedPeer(
        peer=raw.types.PeerUser(user_id=user.id), chats=[], users=[server.raw_user(user.id, viewer=account)]
    )


@handles(raw.functions.channels.GetParticipant)
async def get_participant(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    channel = server.channels.get(getattr(q.channel, "channel_id", 0))
    if channel is None or q.channel.access_hash != channel.access_hash:
        raise RpcFailure(400, "CHANNEL_INVALID")
    if not channel.bot_is_admin:
        raise RpcFailure(400, "CHAT_ADMIN_REQUIRED")
    user_id = _peer_user(server, account, q.participant)
    status = channel.members.get(user_id, "left")
    participant = raw_participant(server, channel, user_id, status)
    if participant is None:
        raise RpcFailure(400, "USER_NOT_PARTICIPANT")
    users = [server.raw_user(u, viewer=account) for u in {user_id, OWNER_ID}]
    return raw.types.channels.ChannelParticipant(
        participant=participant, chats=[server.raw_channel(channel)], users=users
    )


def raw_participant(server: FakeTelegram, channel: FakeChannel, user_id: int, status: str) -> Any:
    """The raw participant for a member status; None for one who is not in the channel."""
    date = server.now()
    rights = raw.types.ChatAdminRights(post_messages=True, edit_messages=True, delete_messages=True)
    if status == "creator":
        return raw.types.ChannelParticipantCreator(user_id=user_id, admin_rights=rights)
    if status == "administrator":
        return raw.types.ChannelParticipantAdmin(user_id=user_id, promoted_by=OWNER_ID, date=date, admin_rights=rights)
    if status == "member":
        return raw.types.ChannelParticipant(user_id=user_id, date=date)
    if status in ("kicked", "restricted"):
        banned = raw.types.ChatBannedRights(until_date=0, view_messages=status == "kicked" or None, send_messages=True)
        return raw.types.ChannelParticipantBanned(
            peer=raw.types.PeerUser(user_id=user_id),
            kicked_by=OWNER_ID,
            date=date,
            banned_rights=banned,
            left=status == "kicked" or None,
        )
    return None


# ---- uploads ---------------------------------------------------------------------------------------


@handles(raw.functions.upload.SaveFilePart)
async def save_file_part(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    return await _save_part(server, account, q.file_id, q.file_part, q.bytes, None)


@handles(raw.functions.upload.SaveBigFilePart)
async def save_big_file_part(server: FakeTelegram, session: FakeSession, account: int, q: Any) -> Any:
    return await _save_part(server, account, q.file_id, q.file_part, q.bytes, q.file_total_parts)


async def _save_part(
    server: FakeTelegram, account: int, file_id: int, part: int, data: bytes, total: int | None
) -> bool:
    limit = PREMIUM_PARTS_MAX if account == PREMIUM_ID else BOT_PARTS_MAX
    if len(data) > PART_SIZE_MAX:
        raise RpcFailure(400, "FILE_PART_TOO_BIG")
    if part >= limit or (total is not None and total > limit):
        raise RpcFailure(400, "FILE_PARTS_INVALID")
    if server.upload_cap is not None and part * PART_SIZE_MAX + len(data) > server.upload_cap:
        raise RpcFailure(400, "FILE_PARTS_INVALID")  # past what this server takes in one file
    if server.part_delay:
        await asyncio.sleep(server.part_delay)  # the part travelling to the data centre
    upload = server.uploads.setdefault((account, file_id), Upload())
    upload.total_parts = total
    upload.add(part, data)
    server.parts_received += 1
    return True


def _take_upload(server: FakeTelegram, account: int, input_file: Any) -> Upload:
    upload = server.uploads.get((account, input_file.id))
    missing = 0 if upload is None else upload.next_part
    if upload is None or upload.parts or upload.next_part < input_file.parts:
        raise RpcFailure(400, f"FILE_PART_{missing}_MISSING")
    if isinstance(input_file, raw.types.InputFile) and input_file.md5_checksum != upload.md5.hexdigest():
        raise RpcFailure(400, "MD5_CHECKSUM_INVALID")
    del server.uploads[(account, input_file.id)]
    return upload


def _media_file(server: FakeTelegram, account: int, media: Any) -> StoredFile:
    if isinstance(media, (raw.types.InputMediaDocument, raw.types.InputMediaPhoto)):
        wanted = media.id
        found = server.files.get(getattr(wanted, "id", 0))
        if found is None or found.owner != account or found.access_hash != getattr(wanted, "access_hash", None):
            raise RpcFailure(400, "MEDIA_EMPTY")
        return found
    if isinstance(media, raw.types.InputMediaUploadedPhoto):
        upload = _take_upload(server, account, media.file)
        kind, mime, attributes, thumb = "photo", "image/jpeg", [], None
    elif isinstance(media, raw.types.InputMediaUploadedDocument):
        upload = _take_upload(server, account, media.file)
        thumb = _take_upload(server, account, media.thumb) if media.thumb else None
        kind, mime, attributes = _document_kind(media), media.mime_type, list(media.attributes)
    else:
        raise RpcFailure(400, "MEDIA_INVALID")
    file_id = _ids()
    stored = StoredFile(
        id=file_id,
        access_hash=server.access_hash(account, file_id),
        owner=account,
        kind=kind,
        size=upload.size,
        sha256=upload.sha256.hexdigest(),
        mime_type=mime,
        attributes=attributes,
        has_thumbnail=thumb is not None,
    )
    server.files[file_id] = stored
    return stored


def _document_kind(media: Any) -> str:
    kinds = {type(a) for a in media.attributes}
    if media.force_file:
        return "document"
    if raw.types.DocumentAttributeVideo in kinds:
        return "video"
    if raw.types.DocumentAttributeAudio in kinds:
        return "audio"
    return "document"


SENDS = frozenset(
    {
        raw.functions.messages.SendMessage,
        raw.functions.messages.SendMedia,
        raw.functions.messages.SendMultiMedia,
        raw.functions.messages.EditInlineBotMessage,
        raw.functions.messages.ForwardMessages,
        raw.functions.messages.EditMessage,
    }
)
UNAUTHENTICATED = frozenset({raw.functions.auth.ImportBotAuthorization})
