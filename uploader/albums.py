"""An album's send: its items as the port's `Media`, through `send_media_group`.

The caption (the post's text, the source, the signature) goes on the first item, as Telegram
shows an album's caption. The send budget counts an album as its number of items (Telegram
counts each item as a message): the caller holds `len(payload.album)` sends of it.
"""

from __future__ import annotations

import time
from pathlib import Path

from core import metrics
from core.outbox import OutboxItem
from core.payloads import AlbumItem, SendMedia
from core.telegram import Media, MediaKind, SentMedia, TelegramPort


def media_of(item: AlbumItem, caption: str) -> Media:
    return Media(
        kind=MediaKind(item.kind),
        path=Path(item.path) if item.path else None,
        file_id=item.file_id or None,
        caption=caption,
        file_name=Path(item.path).name if item.path else None,
        thumbnail=Path(item.thumbnail) if item.thumbnail else None,
        duration=item.duration or None,
        width=item.width or None,
        height=item.height or None,
    )


async def send_album(port: TelegramPort, row: OutboxItem, payload: SendMedia, caption: str) -> list[SentMedia]:
    """The album in one call; each item's SentMedia, in order."""
    began = time.monotonic()
    items = [media_of(item, caption if number == 0 else "") for number, item in enumerate(payload.album)]
    sent = await port.send_media_group(row.chat_id, items, reply_to=payload.reply_to)
    metrics.count("sends", len(items), method="album", priority=str(row.priority))
    if any(item.path for item in payload.album):
        metrics.observe("upload_seconds", time.monotonic() - began)
        metrics.count("uploaded_bytes", sum(s.size for s in sent))
    else:
        metrics.count("cache_hits")
    return sent


def missing_files(payload: SendMedia) -> str:
    """Why an album's spool files are not there ("" when they are, or it goes by file_ids)."""
    for item in payload.album:
        for name in (item.path, item.thumbnail):
            if name and not Path(name).is_file():
                return f"{name} is not in the spool"
    return ""
