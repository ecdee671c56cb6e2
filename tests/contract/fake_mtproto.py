"""A fake Telegram at the RPC boundary, for the mtproto side of the contract suite.

`FakeTelegram` keeps what Telegram would: accounts and their auth keys, users, channels and their
members, the bot's private chats (messages with edit counts and deletions), uploads assembled
from their parts (sha256 and size), the bot's update stream (pts for messages and edits, qts for
blocks and member changes) so that a client starting again gets what it missed through
`updates.getDifference`. It answers the raw TL functions the bot uses (`fake_mtproto_rpc`) with raw
TL results and fails with Telegram's real RPC errors (FLOOD_WAIT_X, USER_IS_BLOCKED, ...).

It is also the contract suite's `World` (tests/contract/world.py) for mtproto: users write,
press buttons, block the bot and join channels through it, and the tests read the chats back.

Everything runs in the test's thread: the World methods from trio, the RPCs from the asyncio
tasks of each adapter's trio-asyncio loop; no call holds state across an await except uploads,
which are keyed per file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import trio
from pyrogram import raw
from pyrogram.storage import Storage

from sandbox.entities import detect
from tests.contract import fake_mtproto_inline as inline
from tests.contract.fake_mtproto_client import FAKE_DC, FakeClient, FakeSession, RpcFailure
from tests.contract.fake_mtproto_model import (
    BOT_ID,
    FIRST_CHANNEL_ID,
    OWNER_ID,
    PREMIUM_ID,
    Account,
    FakeChannel,
    FakeMessage,
    FakeUser,
    InlineAsk,
    StoredFile,
    Upload,
)
from tests.contract.fake_mtproto_rpc import HANDLERS, SENDS, UNAUTHENTICATED, raw_participant
from tests.contract.world import ChatRecord

ENTITY_TYPES = {
    "url": raw.types.MessageEntityUrl,
    "bot_command": raw.types.MessageEntityBotCommand,
    "mention": raw.types.MessageEntityMention,
    "hashtag": raw.types.MessageEntityHashtag,
    "email": raw.types.MessageEntityEmail,
}


class FakeTelegram:
    """The fake server, and the contract suite's World for mtproto."""

    def __init__(self, token: str, *, part_delay: float = 0.0) -> None:
        self.token = token
        self.part_delay = part_delay  # seconds each upload part takes (slows uploads for cancel tests)
        self.accounts: dict[int, Account] = {BOT_ID: Account(BOT_ID)}
        self.auth_keys: dict[bytes, int | None] = {}
        self.users: dict[int, FakeUser] = {
            BOT_ID: FakeUser(BOT_ID, "Contract Bot", "contract_bot", bot=True),
            OWNER_ID: FakeUser(OWNER_ID, "Owner", "channel_owner"),
        }
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[tuple[int, int], list[FakeMessage]] = {}
        self.files: dict[int, StoredFile] = {}
        self.uploads: dict[tuple[int, int], Upload] = {}
        self.callbacks: dict[int, dict[str, Any]] = {}
        self.sessions: set[FakeSession] = set()
        self.subscribed: set[FakeSession] = set()
        self.floods: list[int] = []
        self.link: str | None = None  # None, or the trouble: "server_error" or "drop"
        self.upload_cap: int | None = None  # bytes; bigger files are refused part by part
        self.inline_asks: dict[int, InlineAsk] = {}
        self.inline_chats: dict[int, list[FakeMessage]] = {}  # user -> their target chat
        self.calls: list[str] = []  # names of every RPC answered, in order
        self.requests: list[tuple[str, str, bool]] = []  # (client, RPC, without invokeWithoutUpdates)
        self.logins = 0
        self.parts_received = 0

    # ---- wiring ---------------------------------------------------------------------------------

    @property
    def client_factory(self) -> Callable[..., FakeClient]:
        return partial(FakeClient, server=self)

    def create_auth_key(self) -> bytes:
        key = os.urandom(256)
        self.auth_keys[key] = None
        return key

    def premium_session_string(self, api_id: int) -> str:
        """A session string of a logged-in Premium user, as `export_session_string` makes one."""
        self.users[PREMIUM_ID] = FakeUser(PREMIUM_ID, "Premium", "premium_user", premium=True)
        self.accounts[PREMIUM_ID] = Account(PREMIUM_ID)
        key = os.urandom(256)
        self.auth_keys[key] = PREMIUM_ID
        packed = struct.pack(Storage.SESSION_STRING_FORMAT, FAKE_DC, api_id, False, key, PREMIUM_ID, False)
        return base64.urlsafe_b64encode(packed).decode().rstrip("=")

    def connected(self, session: FakeSession, *, subscribe: bool) -> None:
        self.sessions.add(session)
        if subscribe and self.auth_keys.get(session.auth_key) == BOT_ID:
            self.subscribed.add(session)

    def disconnected(self, session: FakeSession) -> None:
        self.sessions.discard(session)
        self.subscribed.discard(session)

    async def call(self, session: FakeSession, query: Any, *, with_updates: bool) -> Any:
        name = type(query).QUALNAME.removeprefix("functions.")
        self.calls.append(name)
        self.requests.append((session.client.name, name, with_updates))
        if self.link == "server_error":
            raise RpcFailure(500, "RPC_CALL_FAIL")
        if session.auth_key not in self.auth_keys:
            raise RpcFailure(401, "AUTH_KEY_UNREGISTERED")
        account = self.auth_keys[session.auth_key]
        if account is None and type(query) not in UNAUTHENTICATED:
            raise RpcFailure(401, "AUTH_KEY_UNREGISTERED")
        if with_updates and not session.is_media and account == BOT_ID:
            self.subscribed.add(session)  # Telegram pushes updates to sessions that did not opt out
        handler = HANDLERS.get(type(query))
        if handler is None:
            raise RpcFailure(400, "METHOD_NOT_SUPPORTED_BY_FAKE")  # unknown to kurigram: a BadRequest
        if type(query) in SENDS and self.floods:
            raise RpcFailure(420, f"FLOOD_WAIT_{self.floods.pop(0)}")
        return await handler(self, session, account, query)

    # ---- state helpers used by the RPC handlers -------------------------------------------------

    def now(self) -> int:
        return int(time.time())

    def access_hash(self, owner: int, peer: int) -> int:
        digest = hashlib.blake2b(f"{owner}:{peer}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") >> 1

    def raw_user(self, user_id: int, *, viewer: int) -> Any:
        u = self.users[user_id]
        return raw.types.User(
            id=u.id,
            is_self=u.id == viewer or None,
            bot=u.bot or None,
            premium=u.premium or None,
            access_hash=self.access_hash(viewer, u.id),
            first_name=u.first_name,
            username=u.username,
            lang_code=u.lang_code,
            bot_info_version=1 if u.bot else None,
        )

    def raw_channel(self, channel: FakeChannel) -> raw.types.Channel:
        return raw.types.Channel(
            id=channel.id,
            title=channel.title,
            photo=raw.types.ChatPhotoEmpty(),
            date=self.now(),
            broadcast=True,
            access_hash=channel.access_hash,
            username=channel.username,
        )

    def chat_of(self, owner: int, peer: int) -> list[FakeMessage]:
        return self.messages.setdefault((owner, peer), [])

    def find_message(self, owner: int, message_id: int) -> FakeMessage | None:
        for (who, _), chat in self.messages.items():
            if who != owner:
                continue
            for message in chat:
                if message.id == message_id and not message.deleted:
                    return message
        return None

    def add_message(
        self, owner: int, peer: int, *, out: bool, text: str, entities: list[Any], **extra: Any
    ) -> FakeMessage:
        account = self.accounts[owner]
        message = FakeMessage(account.next_message_id, owner, peer, out, self.now(), text, entities, **extra)
        account.next_message_id += 1
        self.chat_of(owner, peer).append(message)
        return message

    def raw_message(self, m: FakeMessage) -> raw.types.Message:
        return raw.types.Message(
            id=m.id,
            peer_id=raw.types.PeerUser(user_id=m.peer),
            date=m.date,
            message=m.text,
            out=m.out or None,
            entities=m.entities or None,
            reply_markup=m.markup,
            media=self.raw_media(m.file, m.start_timestamp) if m.file else None,
            reply_to=raw.types.MessageReplyHeader(reply_to_msg_id=m.reply_to) if m.reply_to else None,
            edit_date=m.date if m.edit_count else None,
            grouped_id=m.grouped_id,
        )

    def raw_media(self, f: StoredFile, start_timestamp: int | None = None) -> Any:
        if f.kind == "photo":
            return raw.types.MessageMediaPhoto(photo=self.raw_photo(f))
        thumbs: list[Any] | None = [raw.types.PhotoSize(type="m", w=320, h=180, size=1)] if f.has_thumbnail else None
        document = raw.types.Document(
            id=f.id,
            access_hash=f.access_hash,
            file_reference=b"ref",
            date=self.now(),
            mime_type=f.mime_type,
            size=f.size,
            dc_id=FAKE_DC,
            attributes=f.attributes,
            thumbs=thumbs,
        )
        return raw.types.MessageMediaDocument(
            document=document, video=f.kind == "video" or None, video_timestamp=start_timestamp
        )

    def raw_photo(self, f: StoredFile) -> raw.types.Photo:
        sizes: list[Any] = [raw.types.PhotoSize(type="y", w=1280, h=720, size=f.size)]
        return raw.types.Photo(
            id=f.id, access_hash=f.access_hash, file_reference=b"ref", date=self.now(), sizes=sizes, dc_id=FAKE_DC
        )

    def log_pts(self, owner: int, update_for: Callable[[int], Any], count: int = 1) -> Any:
        """Advance the account's pts by `count`, log the update made for the new pts, return it."""
        account = self.accounts[owner]
        account.pts += count
        update = update_for(account.pts)
        account.log.append((account.pts, update))
        return update

    def log_qts(self, update_for: Callable[[int], Any]) -> Any:
        account = self.accounts[BOT_ID]
        account.qts += 1
        update = update_for(account.qts)
        account.qts_log.append((account.qts, update))
        return update

    def push(self, update: Any, *, users: Sequence[int] = (), channels: Sequence[FakeChannel] = ()) -> None:
        """Send `update` to every session of the bot that listens, as Telegram does."""
        body = raw.types.Updates(
            updates=[update],
            users=[self.raw_user(u, viewer=BOT_ID) for u in users],
            chats=[self.raw_channel(c) for c in channels],
            date=self.now(),
            seq=0,
        )
        for session in list(self.subscribed):
            session.push(body)

    def channel_by_username(self, username: str) -> FakeChannel | None:
        wanted = username.lstrip("@").lower()
        return next((c for c in self.channels.values() if c.username.lower() == wanted), None)

    # ---- World ------------------------------------------------------------------------------------

    def _user(self, user_id: int, language_code: str | None = None) -> FakeUser:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = FakeUser(user_id, f"User{user_id}", f"user{user_id}")
        if language_code is not None:
            user.lang_code = language_code
        return user

    async def user_message(
        self, user_id: int, text: str, *, language_code: str = "en", reply_to: int | None = None
    ) -> int:
        await trio.lowlevel.checkpoint()
        user = self._user(user_id, language_code)
        known = user.started_bot
        user.started_bot = True
        if user.blocked_bot:  # writing to the bot again unblocks it
            self._set_blocked(user, False)
        entities: list[Any] = [
            ENTITY_TYPES[e["type"]](offset=e["offset"], length=e["length"]) for e in detect(text, [])
        ]
        message = self.add_message(BOT_ID, user_id, out=False, text=text, entities=entities, reply_to=reply_to)
        update = self.log_pts(
            BOT_ID, lambda pts: raw.types.UpdateNewMessage(message=self.raw_message(message), pts=pts, pts_count=1)
        )
        if known:
            # As Telegram does for a sender the client knows: the short form, which kurigram
            # completes with updates.getDifference.
            short = raw.types.UpdateShortMessage(
                id=message.id,
                user_id=user_id,
                message=text,
                pts=update.pts,
                pts_count=1,
                date=message.date,
                entities=entities or None,
                reply_to=raw.types.MessageReplyHeader(reply_to_msg_id=reply_to) if reply_to else None,
            )
            for session in list(self.subscribed):
                session.push(short)
        else:
            self.push(update, users=[user_id])
        return message.id

    async def user_callback(self, user_id: int, message_id: int, data: str) -> str:
        await trio.lowlevel.checkpoint()
        if self.find_message(BOT_ID, message_id) is None:
            raise AssertionError(f"user {user_id} pressed a button on message {message_id}, which is not there")
        query_id = int.from_bytes(os.urandom(8), "big") >> 1
        self.callbacks[query_id] = {"user": user_id, "answered": False}
        update = raw.types.UpdateBotCallbackQuery(
            query_id=query_id,
            user_id=user_id,
            peer=raw.types.PeerUser(user_id=user_id),
            msg_id=message_id,
            chat_instance=self.access_hash(BOT_ID, user_id),
            data=data.encode(),
        )
        self.push(update, users=[user_id])
        return str(query_id)

    async def block(self, user_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self._set_blocked(self._user(user_id), True)

    def _set_blocked(self, user: FakeUser, blocked: bool) -> None:
        user.blocked_bot = blocked
        update = self.log_qts(
            lambda qts: raw.types.UpdateBotStopped(user_id=user.id, date=self.now(), stopped=blocked, qts=qts)
        )
        self.push(update, users=[user.id])

    async def create_channel(self, username: str, *, bot_is_admin: bool = True) -> None:
        await trio.lowlevel.checkpoint()
        name = username.lstrip("@")
        channel_id = FIRST_CHANNEL_ID + len(self.channels)
        channel = FakeChannel(channel_id, self.access_hash(BOT_ID, channel_id), name, name, bot_is_admin)
        channel.members[OWNER_ID] = "creator"
        if bot_is_admin:
            channel.members[BOT_ID] = "administrator"
        self.channels[channel_id] = channel

    async def set_member(self, channel: str, user_id: int, status: str) -> None:
        await trio.lowlevel.checkpoint()
        found = self.channel_by_username(channel)
        if found is None:
            raise AssertionError(f"no channel {channel}")
        self._user(user_id)
        before = found.members.get(user_id, "left")
        found.members[user_id] = status
        if not found.bot_is_admin:
            return  # Telegram tells only administrators about members
        update = self.log_qts(
            lambda qts: raw.types.UpdateChannelParticipant(
                channel_id=found.id,
                date=self.now(),
                actor_id=user_id,
                user_id=user_id,
                qts=qts,
                prev_participant=raw_participant(self, found, user_id, before),
                new_participant=raw_participant(self, found, user_id, status),
            )
        )
        self.push(update, users=[user_id, OWNER_ID], channels=[found])

    async def chat(self, user_id: int) -> list[ChatRecord]:
        await trio.lowlevel.checkpoint()
        return [self.record(m) for m in self.chat_of(BOT_ID, user_id)]

    def record(self, m: FakeMessage) -> ChatRecord:
        return ChatRecord(
            message_id=m.id,
            from_bot=m.out and not m.via_bot,
            text=m.text,
            edit_count=m.edit_count,
            deleted=m.deleted,
            media_kind=m.file.kind if m.file else None,
            media_sha256=m.file.sha256 if m.file else None,
            media_size=m.file.size if m.file else None,
            has_thumbnail=bool(m.file and m.file.has_thumbnail),
            has_keyboard=bool(m.markup and getattr(m.markup, "rows", None)),
            media_group_id=str(m.grouped_id) if m.grouped_id is not None else None,
            start_timestamp=m.start_timestamp,
            via_bot=m.via_bot,
        )

    async def force_flood(self, retry_after: int) -> None:
        await trio.lowlevel.checkpoint()
        self.floods.append(retry_after)

    async def inline_query(self, user_id: int, query: str) -> str:
        return await inline.user_types(self, user_id, query)

    async def inline_results(self, user_id: int) -> list[str]:
        return await inline.results_of(self, user_id)

    async def choose_inline_result(self, user_id: int, result_id: str) -> str | None:
        return await inline.user_chooses(self, user_id, result_id)

    async def target_chat(self, user_id: int) -> list[ChatRecord]:
        return await inline.target_chat(self, user_id)

    # ---- FaultWorld (tests/contract/test_faults.py) --------------------------------------------------

    async def break_link(self, how: str) -> None:
        await trio.lowlevel.checkpoint()
        self.link = how
        if how == "drop":
            for session in list(self.sessions):
                session.cut()

    async def heal_link(self) -> None:
        await trio.lowlevel.checkpoint()
        self.link = None

    async def cap_uploads(self, max_bytes: int) -> None:
        await trio.lowlevel.checkpoint()
        self.upload_cap = max_bytes

    # ---- inspection for mtproto-only tests ------------------------------------------------------

    def premium_chat(self, user_id: int) -> list[ChatRecord]:
        return [self.record(m) for m in self.chat_of(PREMIUM_ID, user_id)]
