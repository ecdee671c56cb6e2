"""One outbox row, one call of the Telegram port: the payload's kind picks the method."""

from __future__ import annotations

import time
from pathlib import Path

from core import metrics
from core.outbox import OutboxItem
from core.payloads import Button as PayloadButton
from core.payloads import (
    CallbackAnswer,
    Copy,
    Delete,
    Edit,
    InlineAnswer,
    InlineEdit,
    InlineMedia,
    InlineOption,
    Keyboard,
    SendMedia,
    Text,
)
from core.telegram import (
    ArticleResult,
    Button,
    CachedResult,
    InlineButton,
    InlineResult,
    Media,
    MediaKind,
    Progress,
    SentMedia,
    TelegramPort,
)
from core.telegram.port import Keyboard as PortKeyboard
from uploader.caption import build_caption


def keyboard(rows: Keyboard | None) -> PortKeyboard | None:
    if rows is None:
        return None
    return tuple(tuple(_button(b) for b in row) for row in rows)


def _button(b: PayloadButton) -> Button:
    return Button(b.text, callback_data=b.data, url=b.url)


class NoTarget(Exception):
    """An edit or delete whose message has no id (its row was sent without one)."""


def media_of(payload: SendMedia, caption: str) -> Media:
    return Media(
        kind=MediaKind(payload.kind),
        path=Path(payload.path) if payload.path else None,
        file_id=payload.file_id or None,
        caption=caption,
        file_name=Path(payload.path).name if payload.path else None,
        thumbnail=Path(payload.thumbnail) if payload.thumbnail else None,
        duration=payload.duration or None,
        width=payload.width or None,
        height=payload.height or None,
        title=payload.title or None if payload.kind == "audio" else None,
        performer=payload.performer or None,
        start_timestamp=payload.start or None if payload.kind == "video" else None,
    )


async def deliver(port: TelegramPort, item: OutboxItem, signature: str = "") -> int | None:
    """Send a row that is not a file; returns the message id Telegram gave (if any).
    `signature`: CAPTION_SIGNATURE, for the caption of an inline message turned into a file."""
    message_id = await _deliver(port, item, signature)
    metrics.count("sends", method=item.kind, priority=str(item.priority))
    return message_id


async def _deliver(port: TelegramPort, item: OutboxItem, signature: str) -> int | None:
    p = item.payload
    if isinstance(p, Text):
        sent = await port.send_text(
            item.chat_id, p.text, keyboard=keyboard(p.keyboard), reply_to=p.reply_to, html=p.html
        )
        return sent.message_id
    if isinstance(p, Edit):
        await port.edit_text(
            item.chat_id, _target(item, p.message_id), p.text, keyboard=keyboard(p.keyboard), html=p.html
        )
        return None
    if isinstance(p, Delete):
        await port.delete_message(item.chat_id, _target(item, p.message_id))
        return None
    if isinstance(p, Copy):
        return (await port.copy_message(item.chat_id, p.from_chat_id, p.message_id)).message_id
    if isinstance(p, CallbackAnswer):
        await port.answer_callback(p.callback_id, p.text, alert=p.alert)
        return None
    if isinstance(p, InlineAnswer):
        button = InlineButton(p.button_text, p.button_start) if p.button_text and p.button_start else None
        await port.answer_inline_query(p.query_id, [_inline_result(r) for r in p.results], button=button)
        return None
    if isinstance(p, InlineEdit):
        await port.edit_inline_text(p.inline_message_id, p.text, keyboard=keyboard(p.keyboard))
        return None
    if isinstance(p, InlineMedia):
        caption = build_caption(p.title, p.source_url, signature, lang=p.lang)
        media = Media(kind=MediaKind(p.kind), file_id=p.file_id, caption=caption)
        await port.edit_inline_media(p.inline_message_id, media)
        return None
    raise TypeError(f"outbox {item.id}: {type(p).__name__} is sent by the file sender")


def _inline_result(option: InlineOption) -> InlineResult:
    if option.kind == "article":
        return ArticleResult(
            option.id, option.title, option.text, description=option.description, keyboard=keyboard(option.keyboard)
        )
    return CachedResult(
        option.id,
        MediaKind(option.kind),
        option.file_id,
        title=option.title,
        description=option.description,
        caption=option.caption,
        keyboard=keyboard(option.keyboard),
    )


async def send_file(
    port: TelegramPort, item: OutboxItem, payload: SendMedia, caption: str, progress: Progress | None
) -> SentMedia:
    began = time.monotonic()
    sent = await port.send_media(item.chat_id, media_of(payload, caption), progress=progress, reply_to=payload.reply_to)
    metrics.count("sends", method=item.kind, priority=str(item.priority))
    if payload.path:  # bytes went up
        metrics.observe("upload_seconds", time.monotonic() - began)
        metrics.count("uploaded_bytes", sent.size)
    else:  # sent again by its file_id: no download, no upload
        metrics.count("cache_hits")
    return sent


def _target(item: OutboxItem, explicit: int) -> int:
    message_id = explicit or item.target_message_id
    if not message_id:
        raise NoTarget(f"outbox {item.id}: the message to change has no id")
    return message_id
