"""The mtproto adapter (production default): kurigram, imported as `pyrogram`, inside trio.

    async with MtprotoAdapter(settings, role="gateway") as port:
        batch = await port.get_updates(timeout=30)

**Who owns the asyncio loop.** The adapter does: `__aenter__` opens its own trio-asyncio loop
(`trio_asyncio.open_loop()`), builds the kurigram client(s) on it and starts them with
`aio_as_trio(client.start)`; `__aexit__` stops them and closes the loop. Callers need no asyncio
at all. Every call passes the loop explicitly, so the port may be used from any trio task of the
same `trio.run`, not only from the task that entered it (which must also be the one that exits
it, as for any async context manager). kurigram's `run()` and `idle()` are never used.

**Roles and sessions.** One session file per process role, `<DATA_DIR>/sessions/bot-<role>.session`
(folder 0700, files 0600), so a restart reuses its login instead of logging in again (Telegram
answers repeated bot logins with long FloodWaits). Only the `gateway` role receives updates; any
other role (the uploader) runs with `no_updates=True`: its requests opt out of updates
(invokeWithoutUpdates), and whatever kurigram's session still receives is dropped.

**Updates.** `skip_updates=False`: on start kurigram asks `updates.getDifference` from the
position in the session file, so what arrived while the gateway was down is delivered, in order.
That position moves only on `confirm(batch)` (see `_mtproto_updates`): updates handed out but not
confirmed are fetched again after a restart. Callback queries are not part of Telegram's
difference and are not re-delivered; neither are, with kurigram's recovery (it asks with qts=0),
block/unblock and member changes that happened while the gateway was down.

**Uploads.** `max_concurrent_transmissions` = MTPROTO_MAX_TRANSMISSIONS files at once. Progress
is reported per 512 KiB part, when kurigram hands the part to its upload workers (at most a few
parts ahead of Telegram's acknowledgement) and reaches (size, size). Cancelling the calling trio
task cancels the asyncio upload task (trio-asyncio does that): kurigram's `save_file` stops
queueing parts, lets the parts in flight finish, and the call raises `trio.Cancelled`; the final
`messages.sendMedia` is never sent. kurigram's own `stop_transmission()` is not the way: it can
only be raised from inside a progress callback, `send_*` then returns None instead of raising,
and the thumbnail upload and the final sendMedia have no callback to stop them; a None is still
handled (it becomes `Transient`, or `Cancelled` if we were cancelled).
`sleep_threshold` = MTPROTO_SLEEP_THRESHOLD (default 0): kurigram retries after FloodWaits up to
that many seconds itself; longer ones reach the caller as `FloodWait`.

**Trouble.** kurigram gives up on a 5xx or network error after 2 attempts instead of 10, and a
call waits at most 3 s for a lost connection (`_mtproto_link`): both then raise `Transient`, so
that the uploader's back-off and circuit breaker decide.

**Premium.** With PREMIUM_SESSION set (and UPLOAD_LIMIT_MB raised to 4000, the operator's cap),
a second, user client (in memory, no updates) sends files bigger than a bot may upload (2000
MiB). It sends them itself, so it must be able to reach the chat; the `file_id` it returns
carries a prefix that routes re-sends through it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

# Before pyrogram is first imported: its raw TL classes are then loaded when first used.
import core.telegram._mtproto_lazy  # noqa: F401

# isort: split
import pyrogram
import trio
import trio_asyncio
from pyrogram import enums, types
from pyrogram.handlers import ConnectHandler, DisconnectHandler

from core import config
from core.config import Settings
from core.telegram._mtproto_client import (
    chat_member_status,
    client_options,
    inline_result,
    input_media,
    limit_retries,
    prepare_session_dir,
    progress_coroutine,
    restrict_session_files,
    upload,
)
from core.telegram._mtproto_convert import markup
from core.telegram._mtproto_errors import translate
from core.telegram._mtproto_link import LINK_GRACE, LinkWatch
from core.telegram._mtproto_state import HeldStateStorage
from core.telegram._mtproto_updates import UpdatePipe, discard_updates
from core.telegram.port import (
    BadRequest,
    BotIdentity,
    InlineButton,
    InlineResult,
    Keyboard,
    Media,
    MemberStatus,
    MessageGone,
    Progress,
    SentMedia,
    SentMessage,
    StaleFileId,
    TelegramPort,
    TooLarge,
    Transient,
    UpdateBatch,
    check_album,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MIB = 1024 * 1024
ROLES_WITH_UPDATES = frozenset({"gateway"})
ROLE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
UPDATE_BUFFER = 1000  # converted updates waiting for get_updates before the handler waits
MAX_BATCH = 100  # updates handed out by one get_updates
STOP_TIMEOUT = 10.0  # seconds for the clients to stop before the loop is torn down anyway
PREMIUM_PREFIX = "premium:"


class MtprotoAdapter:
    """`TelegramPort` over MTProto with kurigram. See the module docstring for the semantics."""

    upload_limit: int

    def __init__(
        self,
        settings: Settings,
        *,
        role: str,
        client_factory: Callable[..., pyrogram.Client] | None = None,
    ) -> None:
        if not ROLE_NAME.match(role):
            raise ValueError(f"role must be a short lower-case name, got {role!r}")
        if not settings.bot_token:
            raise ValueError("BOT_TOKEN is required for the mtproto adapter")
        self._settings = settings
        self._role = role
        self._factory: Callable[..., pyrogram.Client] = client_factory or pyrogram.Client
        self._receives = role in ROLES_WITH_UPDATES
        self._bot_limit = min(settings.upload_limit_mb, config.MTPROTO_BOT_UPLOAD_MIB) * MIB
        self.upload_limit = settings.backend_upload_limit_mb * MIB
        self._stack: AsyncExitStack | None = None
        self._loop: Any = None
        self._bot: pyrogram.Client | None = None
        self._premium: pyrogram.Client | None = None
        self._pipe: UpdatePipe | None = None
        self._started: list[pyrogram.Client] = []
        self._link = LinkWatch()

    @property
    def session_name(self) -> str:
        return f"bot-{self._role}"

    # ---- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> TelegramPort:
        if self._stack is not None:
            raise RuntimeError("this adapter is already open")
        self._stack = AsyncExitStack()
        try:
            self._loop = await self._stack.enter_async_context(trio_asyncio.open_loop())
            watchers = await self._stack.enter_async_context(trio.open_nursery())
            watchers.start_soon(self._link.watch)
            self._stack.callback(watchers.cancel_scope.cancel)
            session_dir = prepare_session_dir(self._settings.session_dir)
            options = client_options(self._settings, session_dir, self._loop)
            storage = HeldStateStorage(self.session_name, session_dir) if self._receives else None
            self._bot = self._build_bot(storage, options)
            if storage is not None:
                self._pipe = UpdatePipe(storage, self._loop, buffer=UPDATE_BUFFER)
            if self._settings.premium_session:
                self._premium = self._build_premium(options)
                if self.upload_limit <= self._bot_limit:
                    log.warning("PREMIUM_SESSION is set but UPLOAD_LIMIT_MB caps files at the bot's limit")
            await self._aio(self._start_clients)
            restrict_session_files(session_dir, self.session_name)
            if self._pipe is not None:
                self._pipe.load()
        except BaseException:
            await self._close()
            raise
        log.info("mtproto %s started as @%s", self._role, getattr(self._bot.me, "username", "?"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    def _build_bot(self, storage: HeldStateStorage | None, options: dict[str, Any]) -> pyrogram.Client:
        token = self._settings.bot_token
        assert token is not None
        return self._factory(
            self.session_name,
            bot_token=token.reveal(),
            no_updates=not self._receives,
            skip_updates=False,  # kurigram's default (True) would drop what came while we were down
            storage_engine=storage,
            **options,
        )

    def _build_premium(self, options: dict[str, Any]) -> pyrogram.Client:
        session = self._settings.premium_session
        assert session is not None
        return self._factory(f"premium-{self._role}", session_string=session.reveal(), no_updates=True, **options)

    async def _start_clients(self) -> None:
        """asyncio side: hook the update pipe and the link watch in, then start the clients."""
        assert self._bot is not None
        if self._pipe is not None:
            self._pipe.install(self._bot)
        else:
            discard_updates(self._bot)
        limit_retries(self._bot)
        self._bot.add_handler(ConnectHandler(self._link.on_connect))
        self._bot.add_handler(DisconnectHandler(self._link.on_disconnect))
        await self._bot.start()
        self._started.append(self._bot)
        self._link.changed(True)
        if self._premium is not None:
            discard_updates(self._premium)
            limit_retries(self._premium)
            await self._premium.start()
            self._started.append(self._premium)

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        with trio.CancelScope(shield=True):
            if self._pipe is not None:
                self._pipe.close()
            self._link.closing = True
            with trio.move_on_after(STOP_TIMEOUT) as deadline:
                while self._started:
                    client = self._started.pop()
                    try:
                        await trio_asyncio.aio_as_trio(client.stop, loop=self._loop)()
                    except Exception:
                        log.exception("stopping the mtproto client %s failed", client.name)
            if deadline.cancelled_caught:
                log.warning("mtproto clients did not stop within %ss; closing the loop anyway", STOP_TIMEOUT)
            self._started.clear()
        # Outside the shield: the loop's own scopes were opened before it (open_loop copes with
        # a cancellation while it shuts down).
        await stack.aclose()
        log.info("mtproto %s stopped", self._role)

    # ---- the bridge -----------------------------------------------------------------------------

    async def _aio(self, fn: Callable[..., Awaitable[T]], *args: Any, to_user: bool = False, **kwargs: Any) -> T:
        """Run kurigram's coroutine function `fn` in our loop (one bridge crossing); map its errors."""
        if self._loop is None:
            raise RuntimeError("use the adapter inside `async with`")
        if self._started:
            await self._link.wait_up()
        with self._link.guard():
            try:
                result: T = await trio_asyncio.aio_as_trio(fn, loop=self._loop)(*args, **kwargs)
                return result
            except Exception as exc:
                mapped = translate(exc, to_user=to_user)
                if mapped is exc:
                    raise
                raise mapped from exc
        raise Transient("the connection to Telegram was lost during the call")  # the link watch gave up

    def _client(self) -> pyrogram.Client:
        if self._bot is None or self._bot not in self._started:
            raise RuntimeError("use the adapter inside `async with`")
        return self._bot

    # ---- the port -------------------------------------------------------------------------------

    async def get_me(self) -> BotIdentity:
        me = self._client().me
        assert me is not None  # set by start()
        return BotIdentity(id=me.id, username=me.username or "", first_name=me.first_name or "")

    async def get_updates(self, timeout: float) -> UpdateBatch:
        if self._pipe is None:
            raise RuntimeError(f"the {self._role} role does not receive updates")
        if self._pipe.empty():
            await self._link.wait_up(min(timeout, LINK_GRACE))
        batch = await self._pipe.receive(timeout, MAX_BATCH)
        if not batch.updates and not self._link.up:
            raise Transient("the connection to Telegram was lost while waiting for updates")
        return batch

    async def confirm(self, batch: UpdateBatch) -> None:
        """Remember that `batch` is handled: a restart resumes Telegram's stream after it."""
        if self._pipe is not None:
            self._pipe.confirm(batch)

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        reply_to: int | None = None,
        html: bool = True,
    ) -> SentMessage:
        client = self._client()
        message = await self._aio(
            client.send_message,
            chat_id,
            text,
            parse_mode=_parse_mode(html),
            reply_markup=markup(keyboard),
            reply_parameters=_reply(reply_to),
            to_user=chat_id > 0,
        )
        return SentMessage(chat_id=chat_id, message_id=_sent(message).id)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None:
        client = self._client()
        await self._aio(
            client.edit_message_text,
            chat_id,
            message_id,
            text,
            parse_mode=_parse_mode(html),
            reply_markup=markup(keyboard),
            to_user=chat_id > 0,
        )

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        client = self._client()
        await self._aio(
            client.edit_message_reply_markup, chat_id, message_id, reply_markup=markup(keyboard), to_user=chat_id > 0
        )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        client = self._client()
        deleted = await self._aio(client.delete_messages, chat_id, message_id, to_user=chat_id > 0)
        if not deleted:  # Telegram deletes nothing and says so with a count of 0, not an error
            raise MessageGone("MESSAGE_ID_INVALID: no such message to delete")

    async def copy_message(self, to_chat_id: int, from_chat_id: int, message_id: int) -> SentMessage:
        # A forward without the author is what the Bot API's copyMessage is: one request, any media.
        client = self._client()
        message = await self._aio(
            client.forward_messages, to_chat_id, from_chat_id, message_id, hide_sender_name=True, to_user=to_chat_id > 0
        )
        return SentMessage(chat_id=to_chat_id, message_id=_sent(message).id)

    async def answer_callback(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        client = self._client()
        await self._aio(client.answer_callback_query, callback_id, text=text, show_alert=alert)

    async def get_chat_member(self, chat: int | str, user_id: int) -> MemberStatus:
        return await self._aio(chat_member_status, self._client(), chat, user_id)

    async def send_media(
        self, chat_id: int, media: Media, *, progress: Progress | None = None, reply_to: int | None = None
    ) -> SentMedia:
        if media.file_id is not None:
            return await self._resend(chat_id, media, reply_to)
        assert media.path is not None
        size = media.path.stat().st_size
        if size > self.upload_limit:
            raise TooLarge(f"{size} bytes is more than the {self.upload_limit} this backend accepts")
        premium = size > self._bot_limit
        client = self._premium if premium and self._premium is not None else self._client()
        report = progress_coroutine(progress)
        message = await self._aio(
            upload, client, chat_id, media, report, _reply(reply_to), to_user=chat_id > 0 and not premium
        )
        if message is None:
            # kurigram returns None when StopTransmission ended the upload. If our caller was
            # cancelled this checkpoint raises trio.Cancelled; otherwise it is a failure.
            await trio.lowlevel.checkpoint()
            raise Transient("the upload was stopped")
        return _sent_media(chat_id, message, PREMIUM_PREFIX if premium else "")

    async def _resend(self, chat_id: int, media: Media, reply_to: int | None) -> SentMedia:
        assert media.file_id is not None
        file_id, client, prefix = media.file_id, self._client(), ""
        if file_id.startswith(PREMIUM_PREFIX):
            if self._premium is None:
                raise StaleFileId("this file_id belongs to the Premium session, which is not configured")
            file_id, client, prefix = file_id.removeprefix(PREMIUM_PREFIX), self._premium, PREMIUM_PREFIX
        if media.start_timestamp is not None or media.cover is not None:
            return _sent_media(chat_id, await self._resend_video(client, chat_id, media, file_id, reply_to), prefix)
        try:
            message = await self._aio(
                client.send_cached_media,
                chat_id,
                file_id,
                caption=media.caption,
                parse_mode=enums.ParseMode.HTML,
                reply_markup=markup(media.keyboard),
                reply_parameters=_reply(reply_to),
                to_user=chat_id > 0 and not prefix,
            )
        except ValueError as exc:  # kurigram reads the file_id before any call: not one it can decode
            raise StaleFileId(f"{type(exc).__name__}: {exc}") from exc
        return _sent_media(chat_id, _sent(message), prefix)

    async def _resend_video(
        self, client: pyrogram.Client, chat_id: int, media: Media, file_id: str, reply_to: int | None
    ) -> types.Message:
        """A video by file_id with what send_cached_media cannot carry: its start and cover."""
        try:
            message = await self._aio(
                client.send_video,
                chat_id,
                file_id,
                caption=media.caption,
                parse_mode=enums.ParseMode.HTML,
                reply_markup=markup(media.keyboard),
                reply_parameters=_reply(reply_to),
                video_start_timestamp=media.start_timestamp,
                video_cover=str(media.cover) if media.cover else None,
                to_user=chat_id > 0,
            )
        except ValueError as exc:
            raise StaleFileId(f"{type(exc).__name__}: {exc}") from exc
        return _sent(message)

    async def send_media_group(
        self, chat_id: int, items: Sequence[Media], *, reply_to: int | None = None
    ) -> list[SentMedia]:
        check_album(items)
        for item in items:
            if item.file_id is not None and item.file_id.startswith(PREMIUM_PREFIX):
                raise StaleFileId("an album is sent by the bot: a Premium session's file_id is not its own")
            if item.path is not None and item.path.stat().st_size > self._bot_limit:
                raise TooLarge(f"{item.path.name}: more than the {self._bot_limit} bytes a bot may upload")
        client = self._client()
        try:
            messages = await self._aio(
                client.send_media_group,
                chat_id,
                [input_media(item) for item in items],
                reply_parameters=_reply(reply_to),
                to_user=chat_id > 0,
            )
        except ValueError as exc:  # a file_id kurigram cannot decode
            raise StaleFileId(f"{type(exc).__name__}: {exc}") from exc
        if len(messages) != len(items):
            raise BadRequest(f"Telegram sent {len(messages)} messages of an album of {len(items)}")
        return [_sent_media(chat_id, message, "") for message in messages]

    async def edit_media(
        self, chat_id: int, message_id: int, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        client = self._client()
        await self._aio(
            client.edit_message_media,
            chat_id,
            message_id,
            input_media(media),
            reply_markup=markup(keyboard),
            to_user=chat_id > 0,
        )

    async def answer_inline_query(
        self,
        query_id: str,
        results: Sequence[InlineResult],
        *,
        cache_time: int = 0,
        personal: bool = True,
        button: InlineButton | None = None,
    ) -> None:
        client = self._client()
        await self._aio(
            client.answer_inline_query,
            query_id,
            [inline_result(result) for result in results],
            cache_time=cache_time,
            is_personal=personal,
            switch_pm_text=button.text if button else "",
            switch_pm_parameter=button.start_parameter if button else "",
        )

    async def edit_inline_text(
        self, inline_message_id: str, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None:
        client = self._client()
        await self._aio(
            client.edit_inline_text,
            inline_message_id,
            text,
            parse_mode=_parse_mode(html),
            reply_markup=markup(keyboard),
        )

    async def edit_inline_media(
        self, inline_message_id: str, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        if media.file_id is None or media.cover is not None:
            raise ValueError("an inline message takes a file by file_id only: upload it elsewhere first")
        client = self._client()
        await self._aio(client.edit_inline_media, inline_message_id, input_media(media), reply_markup=markup(keyboard))


# ---- small pure helpers --------------------------------------------------------------------------


def _parse_mode(html: bool) -> enums.ParseMode:
    return enums.ParseMode.HTML if html else enums.ParseMode.DISABLED


def _reply(reply_to: int | None) -> types.ReplyParameters | None:
    return types.ReplyParameters(message_id=reply_to) if reply_to else None


def _sent(message: types.Message | None) -> types.Message:
    if message is None:
        raise BadRequest("Telegram returned no message")
    return message


def _sent_media(chat_id: int, message: types.Message, prefix: str) -> SentMedia:
    kind = message.media.value if message.media else ""
    file = getattr(message, kind, None) if kind else None
    if file is None or not getattr(file, "file_id", None):
        raise BadRequest(f"Telegram returned a message without the media (kind {kind!r})")
    return SentMedia(
        chat_id=chat_id,
        message_id=message.id,
        file_id=prefix + file.file_id,
        file_unique_id=file.file_unique_id or "",
        size=file.file_size or 0,
    )
