"""The botapi adapter: the Telegram Bot API over HTTP (the cloud, a self-hosted server, the sandbox).

httpx under trio. Updates come by long-polling getUpdates; the offset moves (and is told to the
server at once) only in `confirm`, so an update that was not handled durably comes again after a
crash. Uploads are multipart bodies streamed from disk (see `_botapi_multipart`), so memory does
not grow with the file. The bot token is part of every URL: URLs are never logged nor put in an
error message.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from core.config import Settings
from core.telegram._botapi_errors import error_from
from core.telegram._botapi_multipart import FileChanged, FilePart, MultipartBody
from core.telegram._botapi_updates import ALLOWED_UPDATES, parse_status, parse_update
from core.telegram.port import (
    ArticleResult,
    BadRequest,
    BotIdentity,
    InlineButton,
    InlineResult,
    Keyboard,
    Media,
    MediaKind,
    MemberStatus,
    Progress,
    SentMedia,
    SentMessage,
    TelegramError,
    TelegramPort,
    TooLarge,
    Transient,
    Update,
    UpdateBatch,
    check_album,
)

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CONNECT_TIMEOUT = 10.0  # seconds to open a connection to the Bot API server
CALL_TIMEOUT = 30.0  # seconds for the answer to an ordinary call
POLL_MARGIN = 10.0  # a long poll may answer this much later than the timeout it was given
UPLOAD_WRITE_TIMEOUT = 60.0  # seconds one chunk of an upload may take to be written
UPLOAD_ANSWER_TIMEOUT = 600.0  # after the last byte, the server may still be passing the file on
POOL_TIMEOUT = 60.0  # seconds to wait for a free connection from the pool
# Requests in flight at once. More gain nothing (Telegram takes about 30 a second) and cost much:
# httpcore matches every waiting request against every connection, so a crowd of callers (the
# uploader keeps hundreds of sends waiting for its budget) would spend the CPU on that alone.
CONCURRENT_REQUESTS = 16
CLOSE_TIMEOUT = 5.0  # seconds `__aexit__` gives the connections to close

# kind -> (method, form field of the file)
MEDIA_METHODS: dict[MediaKind, tuple[str, str]] = {
    MediaKind.VIDEO: ("sendVideo", "video"),
    MediaKind.AUDIO: ("sendAudio", "audio"),
    MediaKind.DOCUMENT: ("sendDocument", "document"),
    MediaKind.PHOTO: ("sendPhoto", "photo"),
}
# Where the file may be in the answer: Telegram sends some videos back as animations or documents.
MEDIA_ANSWER_KEYS = ("video", "animation", "audio", "voice", "document", "photo", "video_note")


class _RedactTokens(logging.Filter):
    """httpx logs request URLs (at INFO); whatever level it is set to, our tokens never show."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.tokens:
            text = record.getMessage()
            for token in self.tokens:
                text = text.replace(token, "***")
            record.msg, record.args = text, None
        return True


_redact = _RedactTokens()
logging.getLogger("httpx").addFilter(_redact)


def reply_markup(keyboard: Keyboard | None) -> dict[str, Any] | None:
    if keyboard is None:
        return None
    rows = []
    for row in keyboard:
        buttons = []
        for button in row:
            entry: dict[str, str] = {"text": button.text}
            if button.url is not None:
                entry["url"] = button.url
            else:
                entry["callback_data"] = button.callback_data or ""
            buttons.append(entry)
        rows.append(buttons)
    return {"inline_keyboard": rows}


@contextmanager
def _reading(method: str) -> Iterator[None]:
    """An answer without the fields Telegram promises is the server's fault: BadRequest, not a crash."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRequest(f"{method}: unexpected answer ({type(exc).__name__}: {exc})") from None


def _reply_parameters(reply_to: int | None) -> dict[str, Any] | None:
    if reply_to is None:
        return None
    return {"message_id": reply_to, "allow_sending_without_reply": True}


def _sent_media(method: str, kind: MediaKind, result: dict[str, Any]) -> SentMedia:
    for key in (kind.value, *MEDIA_ANSWER_KEYS):
        found = result.get(key)
        if not found:
            continue
        if isinstance(found, list):  # photo: sizes, the largest is the one to re-send
            found = max(found, key=lambda p: (p.get("width", 0) * p.get("height", 0), p.get("file_size", 0)))
        return SentMedia(
            chat_id=int(result["chat"]["id"]),
            message_id=int(result["message_id"]),
            file_id=str(found["file_id"]),
            file_unique_id=str(found.get("file_unique_id", "")),
            size=int(found.get("file_size") or 0),
        )
    raise BadRequest(f"{method}: the answer holds no file")


class BotApiAdapter:
    """TelegramPort over the Bot API. Use as `async with BotApiAdapter(settings, role=...) as port:`."""

    def __init__(self, settings: Settings, *, role: str) -> None:
        if not settings.bot_token:
            raise ValueError("the botapi adapter needs BOT_TOKEN")
        self.role = role
        self.upload_limit = settings.botapi_upload_limit_mb * MIB
        self._token = settings.bot_token.reveal()
        self._base = f"{settings.botapi_url}/bot{self._token}/"
        # PROXY_URL as for mtproto (socks5:// through httpx's socks extra, in requirements.txt).
        self._proxy = settings.proxy_url or None
        self._client: httpx.AsyncClient | None = None
        self._in_flight = trio.Semaphore(CONCURRENT_REQUESTS)
        self._offset = 0  # first update_id not yet confirmed; 0 until the first confirm
        _redact.tokens.add(self._token)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> TelegramPort:
        timeout = httpx.Timeout(CALL_TIMEOUT, connect=CONNECT_TIMEOUT, pool=POOL_TIMEOUT)
        limits = httpx.Limits(max_connections=CONCURRENT_REQUESTS, max_keepalive_connections=CONCURRENT_REQUESTS)
        self._client = httpx.AsyncClient(
            base_url=self._base, timeout=timeout, proxy=self._proxy, trust_env=False, limits=limits
        )
        log.info("%s: Bot API adapter open (upload limit %d MiB)", self.role, self.upload_limit // MIB)
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + CLOSE_TIMEOUT
                await client.aclose()

    # ---- the HTTP calls ------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("use the adapter as `async with adapter as port:`")
        return self._client

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")

    async def _send(self, method: str, request: httpx.Request) -> Any:
        """Send one request; the `result` of a successful answer, else the mapped error."""
        async with self._in_flight:
            return await self._send_now(method, request)

    async def _send_now(self, method: str, request: httpx.Request) -> Any:
        started = time.monotonic()
        try:
            response = await self._http().send(request)
        except httpx.RequestError as exc:
            # The message of a transport error names no URL, but scrub it anyway; `from None`
            # keeps the request (and its URL) out of the chained traceback.
            raise Transient(f"{method}: {type(exc).__name__} {self._scrub(str(exc))}".rstrip()) from None
        except FileChanged as exc:
            raise BadRequest(f"{method}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        log.debug("%s: %d in %.0f ms", method, response.status_code, (time.monotonic() - started) * 1000)
        if body is not None and body.get("ok") is True:
            return body.get("result")
        raise error_from(method, response.status_code, body)

    async def _call(self, method: str, params: dict[str, Any], *, timeout: httpx.Timeout | None = None) -> Any:
        payload = {k: v for k, v in params.items() if v is not None}
        extensions = {} if timeout is None else {"timeout": timeout.as_dict()}
        request = self._http().build_request("POST", method, json=payload, extensions=extensions)
        return await self._send(method, request)

    # ---- identity and updates ----------------------------------------------------------------

    async def get_me(self) -> BotIdentity:
        me = await self._call("getMe", {})
        with _reading("getMe"):
            return BotIdentity(int(me["id"]), username=str(me.get("username") or ""), first_name=str(me["first_name"]))

    async def get_updates(self, timeout: float) -> UpdateBatch:
        poll = max(0, math.floor(timeout))  # the Bot API takes whole seconds; never wait longer than asked
        wait = httpx.Timeout(poll + POLL_MARGIN, connect=CONNECT_TIMEOUT, pool=POOL_TIMEOUT)
        raw = await self._call(
            "getUpdates",
            {"offset": self._offset or None, "timeout": poll, "allowed_updates": list(ALLOWED_UPDATES)},
            timeout=wait,
        )
        updates: list[Update] = []
        last = 0
        for item in raw if isinstance(raw, list) else ():
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                log.warning("%s: skipping an update without an update_id", self.role)
                continue
            if update_id < self._offset:  # already confirmed; a server must not send it, skip if one does
                continue
            last = max(last, update_id)
            parsed = parse_update(item)
            if parsed is not None:
                updates.append(parsed)
        return UpdateBatch(updates=updates, last_update_id=last)

    async def confirm(self, batch: UpdateBatch) -> None:
        """Move the offset past the batch and tell the server now, so that a crash right after
        this does not bring the handled updates back."""
        if not batch.last_update_id or batch.last_update_id < self._offset:
            return  # nothing new: no call
        self._offset = batch.last_update_id + 1
        try:
            await self._call(
                "getUpdates",
                {"offset": self._offset, "limit": 1, "timeout": 0, "allowed_updates": list(ALLOWED_UPDATES)},
            )
        except TelegramError as exc:
            # The offset still goes out with the next getUpdates; only a crash before it repeats them.
            log.warning("%s: confirming updates up to %d failed (%s)", self.role, batch.last_update_id, exc)

    # ---- text messages -------------------------------------------------------------------------

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        reply_to: int | None = None,
        html: bool = True,
    ) -> SentMessage:
        result = await self._call(
            "sendMessage",
            {
                "chat_id": chat_id,
                "text": text,
                "parse_mode": "HTML" if html else None,
                "reply_markup": reply_markup(keyboard),
                "reply_parameters": _reply_parameters(reply_to),
            },
        )
        with _reading("sendMessage"):
            return SentMessage(chat_id=int(result["chat"]["id"]), message_id=int(result["message_id"]))

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None:
        await self._call(
            "editMessageText",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "text": text,
                "parse_mode": "HTML" if html else None,
                "reply_markup": reply_markup(keyboard),
            },
        )

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        # Without reply_markup, editMessageReplyMarkup removes the keyboard.
        await self._call(
            "editMessageReplyMarkup",
            {"chat_id": chat_id, "message_id": message_id, "reply_markup": reply_markup(keyboard)},
        )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        await self._call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})

    async def copy_message(self, to_chat_id: int, from_chat_id: int, message_id: int) -> SentMessage:
        result = await self._call(
            "copyMessage", {"chat_id": to_chat_id, "from_chat_id": from_chat_id, "message_id": message_id}
        )
        with _reading("copyMessage"):
            return SentMessage(chat_id=to_chat_id, message_id=int(result["message_id"]))

    async def answer_callback(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        await self._call(
            "answerCallbackQuery", {"callback_query_id": callback_id, "text": text, "show_alert": alert or None}
        )

    async def get_chat_member(self, chat: int | str, user_id: int) -> MemberStatus:
        member = await self._call("getChatMember", {"chat_id": chat, "user_id": user_id})
        with _reading("getChatMember"):
            return parse_status(member["status"])

    # ---- media ---------------------------------------------------------------------------------

    async def send_media(
        self, chat_id: int, media: Media, *, progress: Progress | None = None, reply_to: int | None = None
    ) -> SentMedia:
        method, field = MEDIA_METHODS[media.kind]
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "reply_markup": reply_markup(media.keyboard),
            "reply_parameters": _reply_parameters(reply_to),
        }
        files = _Files()
        fields = _media_fields(media, files, part=field)
        sent_file = fields.pop("media")
        if media.file_id is not None:
            params[field] = sent_file  # an upload is the part named `field` itself
        params |= fields
        result = await self._post(method, params, files, progress)
        with _reading(method):
            return _sent_media(method, media.kind, result)

    async def send_media_group(
        self, chat_id: int, items: Sequence[Media], *, reply_to: int | None = None
    ) -> list[SentMedia]:
        check_album(items)
        files = _Files()
        album = [_input_media(item, files, f"file{i}") for i, item in enumerate(items)]
        params = {"chat_id": chat_id, "media": album, "reply_parameters": _reply_parameters(reply_to)}
        result = await self._post("sendMediaGroup", params, files, None)
        with _reading("sendMediaGroup"):
            return [_sent_media("sendMediaGroup", item.kind, sent) for item, sent in zip(items, result, strict=True)]

    async def edit_media(
        self, chat_id: int, message_id: int, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        files = _Files()
        params = {
            "chat_id": chat_id,
            "message_id": message_id,
            "media": _input_media(media, files),
            "reply_markup": reply_markup(keyboard),
        }
        await self._post("editMessageMedia", params, files, None)

    async def answer_inline_query(
        self,
        query_id: str,
        results: Sequence[InlineResult],
        *,
        cache_time: int = 0,
        personal: bool = True,
        button: InlineButton | None = None,
    ) -> None:
        params: dict[str, Any] = {
            "inline_query_id": query_id,
            "results": [_inline_result(result) for result in results],
            "cache_time": cache_time,
            "is_personal": personal,
        }
        if button is not None:
            params["button"] = {"text": button.text, "start_parameter": button.start_parameter}
        await self._call("answerInlineQuery", params)

    async def edit_inline_text(
        self, inline_message_id: str, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None:
        await self._call(
            "editMessageText",
            {
                "inline_message_id": inline_message_id,
                "text": text,
                "parse_mode": "HTML" if html else None,
                "reply_markup": reply_markup(keyboard),
            },
        )

    async def edit_inline_media(
        self, inline_message_id: str, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        if media.file_id is None or media.cover is not None:
            raise ValueError("an inline message takes a file by file_id only: upload it elsewhere first")
        params = {
            "inline_message_id": inline_message_id,
            "media": _input_media(media, _Files()),
            "reply_markup": reply_markup(keyboard),
        }
        await self._call("editMessageMedia", params)

    async def _post(self, method: str, params: dict[str, Any], files: _Files, progress: Progress | None) -> Any:
        """A call with its files streamed from disk as a multipart body (a plain JSON call without)."""
        if not files.parts:
            return await self._call(method, params)
        sizes = [(await trio.Path(path).stat()).st_size for _, path, _ in files.parts]
        for size in sizes:
            if size > self.upload_limit:
                raise TooLarge(f"{method}: {size} bytes is over this backend's {self.upload_limit // MIB} MiB")
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items() if v is not None}
        async with AsyncExitStack() as opened:
            parts = []
            for (field, path, report), size in zip(files.parts, sizes, strict=True):
                handle = await opened.enter_async_context(await trio.Path(path).open("rb"))
                parts.append(FilePart(field, files.names.get(field) or path.name, handle, size, report=report))
            body = MultipartBody(fields, parts, progress)
            wait = httpx.Timeout(
                UPLOAD_ANSWER_TIMEOUT, connect=CONNECT_TIMEOUT, write=UPLOAD_WRITE_TIMEOUT, pool=POOL_TIMEOUT
            )
            request = self._http().build_request(
                "POST", method, content=body, headers=body.headers, extensions={"timeout": wait.as_dict()}
            )
            log.debug("%s: uploading %d bytes", method, sum(sizes))
            return await self._send(method, request)


class _Files:
    """The files of one request: (form field, path, counted in the progress), and their names."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, Path, bool]] = []
        self.names: dict[str, str] = {}

    def attach(self, field: str, path: Path, *, name: str | None = None, report: bool = False) -> str:
        self.parts.append((field, path, report))
        if name:
            self.names[field] = name
        return f"attach://{field}"


def _media_fields(media: Media, files: _Files, *, part: str) -> dict[str, Any]:
    """A send's media fields, as sendVideo & co. and an InputMedia hold them: the caption, the
    kind's own fields, and under "media" the file: its file_id, or `attach://<part>` with the file
    (and its thumbnail and cover) attached to the request. None values are left out."""
    out: dict[str, Any] = {"caption": media.caption or None, "parse_mode": "HTML" if media.caption else None}
    if media.file_id is not None:
        out["media"] = media.file_id
    else:
        assert media.path is not None
        out["media"] = files.attach(part, media.path, name=media.file_name, report=True)
        if media.thumbnail is not None and media.kind is not MediaKind.PHOTO:
            out["thumbnail"] = files.attach(f"{part}_thumb", media.thumbnail)
    if media.kind in (MediaKind.VIDEO, MediaKind.AUDIO):
        out["duration"] = media.duration
    if media.kind is MediaKind.VIDEO:
        out |= {"width": media.width, "height": media.height, "supports_streaming": True}
        out["start_timestamp"] = media.start_timestamp
        if media.cover is not None:
            out["cover"] = files.attach(f"{part}_cover", media.cover)
    if media.kind is MediaKind.AUDIO:
        out |= {"title": media.title, "performer": media.performer}
    return {k: v for k, v in out.items() if v is not None}


def _input_media(media: Media, files: _Files, part: str = "file0") -> dict[str, Any]:
    """An InputMedia object (an album's item, editMessageMedia's media)."""
    return {"type": media.kind.value, **_media_fields(media, files, part=part)}


def _inline_result(result: InlineResult) -> dict[str, Any]:
    out: dict[str, Any] = {"id": result.id}
    if isinstance(result, ArticleResult):
        out |= {
            "type": "article",
            "title": result.title,
            "input_message_content": {"message_text": result.text, "parse_mode": "HTML"},
        }
    else:
        out |= {"type": result.kind.value, f"{result.kind.value}_file_id": result.file_id}
        if result.title:
            out["title"] = result.title
        if result.caption:
            out |= {"caption": result.caption, "parse_mode": "HTML"}
    if result.description:
        out["description"] = result.description
    markup = reply_markup(result.keyboard)
    if markup is not None:
        out["reply_markup"] = markup
    return out
