"""Building kurigram clients from the settings, and the coroutines that run inside its loop.

Everything here that is `async` is asyncio-flavoured: the adapter runs it with
`aio_as_trio(..., loop=...)`, one crossing of the bridge per operation.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyrogram
from pyrogram import enums, errors, types

from core.config import Settings
from core.telegram._mtproto_convert import markup, member_status
from core.telegram.port import ArticleResult, InlineResult, Media, MediaKind, MemberStatus, Progress

SESSION_DIR_MODE = 0o700
SESSION_FILE_MODE = 0o600
HANDLER_WORKERS = 1  # one dispatcher task, so that updates reach us in the order they came
LIBRARY_RETRIES = 2  # attempts kurigram makes on a 5xx or network error (its default: 10, 1 s apart)
LIBRARY_RETRY_DELAY = 0.5  # seconds between them
PROXY_SCHEMES = {"socks5": "socks5", "http": "http", "https": "http"}  # kurigram tunnels both via CONNECT

AsyncProgress = Callable[[int, int], Awaitable[None]]


def client_options(settings: Settings, session_dir: Path, loop: Any) -> dict[str, Any]:
    """The keyword arguments every kurigram client of this bot gets."""
    return {
        "api_id": settings.api_id,
        "api_hash": settings.api_hash.reveal() if settings.api_hash else None,
        "workdir": str(session_dir),
        "proxy": proxy_options(settings.proxy_url),
        # FloodWaits longer than this reach us (as FloodWait) instead of being slept in the library.
        "sleep_threshold": settings.mtproto_sleep_threshold,
        "max_concurrent_transmissions": settings.mtproto_max_transmissions,
        "workers": HANDLER_WORKERS,
        "parse_mode": enums.ParseMode.HTML,
        # Each of these costs extra requests per message and the bot needs none of them.
        "fetch_replies": False,
        "fetch_topics": False,
        "fetch_stories": False,
        "fetch_stickers": False,
        "loop": loop,
    }


def proxy_options(url: str) -> dict[str, Any] | None:
    """PROXY_URL (socks5://user:pass@host:port or http://host:port) as kurigram's proxy dict."""
    if not url:
        return None
    parts = urlsplit(url)
    scheme = PROXY_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname or not parts.port:
        raise ValueError("PROXY_URL must look like socks5://[user:pass@]host:port or http://host:port")
    options: dict[str, Any] = {"scheme": scheme, "hostname": parts.hostname, "port": parts.port}
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    return options


def prepare_session_dir(folder: Path) -> Path:
    folder.mkdir(mode=SESSION_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(folder, SESSION_DIR_MODE)
    return folder


def restrict_session_files(folder: Path, name: str) -> None:
    # kurigram creates the file with the process umask; the 0700 folder covers that moment, and
    # SQLite gives its journal the database file's mode.
    for path in folder.glob(f"{name}.session*"):
        os.chmod(path, SESSION_FILE_MODE)


def limit_retries(client: pyrogram.Client) -> None:
    """Make kurigram give up on a 5xx or network error after LIBRARY_RETRIES attempts.

    Its `invoke` retries ten times a second apart by default, so a Telegram outage would hold
    every call for ten seconds before the uploader's own back-off and circuit breaker hear of it.
    Only this client's requests change; `save_file` sends its parts through the media session
    directly and keeps kurigram's patience for them.
    """
    invoke = client.invoke

    async def limited(query: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("retries", LIBRARY_RETRIES)
        kwargs.setdefault("retry_delay", LIBRARY_RETRY_DELAY)
        # Some methods (send_media_group) ask to sleep through FloodWaits of a minute themselves:
        # never longer than MTPROTO_SLEEP_THRESHOLD, so that the uploader's budget hears of them.
        if "sleep_threshold" in kwargs:
            kwargs["sleep_threshold"] = min(kwargs["sleep_threshold"], client.sleep_threshold)
        return await invoke(query, *args, **kwargs)

    client.invoke = limited  # type: ignore[method-assign]


# ---- asyncio-side operations ------------------------------------------------------------------------


async def chat_member_status(client: pyrogram.Client, chat: int | str, user_id: int) -> MemberStatus:
    try:
        member = await client.get_chat_member(chat, user_id)
    except errors.UserNotParticipant:
        return "left"
    return member_status(member.status)


async def upload(
    client: pyrogram.Client,
    chat_id: int,
    media: Media,
    progress: AsyncProgress | None,
    reply: types.ReplyParameters | None,
) -> types.Message | None:
    """Send `media.path` with kurigram's send_<kind>; None if StopTransmission ended it."""
    path = str(media.path)
    thumb = str(media.thumbnail) if media.thumbnail else None
    common: dict[str, Any] = {
        "caption": media.caption,
        "parse_mode": enums.ParseMode.HTML,
        "reply_markup": markup(media.keyboard),
        "reply_parameters": reply,
        "progress": progress,
    }
    if media.kind is MediaKind.VIDEO:
        return await client.send_video(
            chat_id,
            path,
            duration=media.duration or 0,
            width=media.width or 0,
            height=media.height or 0,
            thumb=thumb,
            file_name=media.file_name,
            supports_streaming=True,
            video_start_timestamp=media.start_timestamp,
            video_cover=str(media.cover) if media.cover else None,
            **common,
        )
    if media.kind is MediaKind.AUDIO:
        return await client.send_audio(
            chat_id,
            path,
            duration=media.duration or 0,
            performer=media.performer,
            title=media.title,
            thumb=thumb,
            file_name=media.file_name,
            **common,
        )
    if media.kind is MediaKind.PHOTO:
        return await client.send_photo(chat_id, path, **common)
    return await client.send_document(
        chat_id, path, thumb=thumb, file_name=media.file_name, force_document=True, **common
    )


def progress_coroutine(progress: Progress | None) -> AsyncProgress | None:
    # A coroutine function, so kurigram awaits it in its loop instead of calling it in a thread.
    if progress is None:
        return None

    async def report(current: int, total: int) -> None:
        progress(current, total)

    return report


def input_media(media: Media) -> types.InputMedia:
    """kurigram's InputMedia for an album's item or an edit: from disk, or by file_id."""
    source = str(media.path) if media.path is not None else media.file_id
    assert source is not None
    thumb = str(media.thumbnail) if media.thumbnail else None
    common: dict[str, Any] = {"caption": media.caption, "parse_mode": enums.ParseMode.HTML}
    if media.kind is MediaKind.PHOTO:
        return types.InputMediaPhoto(source, **common)
    if media.kind is MediaKind.VIDEO:
        return types.InputMediaVideo(
            source,
            thumb=thumb,
            width=media.width or 0,
            height=media.height or 0,
            duration=media.duration or 0,
            file_name=media.file_name,
            supports_streaming=True,
            video_start_timestamp=media.start_timestamp,
            video_cover=str(media.cover) if media.cover else None,
            **common,
        )
    if media.kind is MediaKind.AUDIO:
        return types.InputMediaAudio(
            source,
            thumb=thumb,
            duration=media.duration or 0,
            performer=media.performer or "",
            title=media.title or "",
            file_name=media.file_name,
            **common,
        )
    return types.InputMediaDocument(source, thumb=thumb, file_name=media.file_name, **common)


def inline_result(result: InlineResult) -> types.InlineQueryResult:
    keyboard = markup(result.keyboard)
    if isinstance(result, ArticleResult):
        content = types.InputTextMessageContent(result.text, parse_mode=enums.ParseMode.HTML)
        return types.InlineQueryResultArticle(
            result.title, content, id=result.id, description=result.description or None, reply_markup=keyboard
        )
    common: dict[str, Any] = {
        "id": result.id,
        "caption": result.caption,
        "parse_mode": enums.ParseMode.HTML,
        "reply_markup": keyboard,
    }
    if result.kind is MediaKind.VIDEO:
        return types.InlineQueryResultCachedVideo(
            result.file_id, result.title, description=result.description or None, **common
        )
    if result.kind is MediaKind.DOCUMENT:
        return types.InlineQueryResultCachedDocument(
            result.file_id, result.title, description=result.description or None, **common
        )
    if result.kind is MediaKind.PHOTO:
        return types.InlineQueryResultCachedPhoto(
            result.file_id, title=result.title or None, description=result.description or None, **common
        )
    return types.InlineQueryResultCachedAudio(result.file_id, **common)
