"""What the sandbox remembers: people, chats, their messages and the files sent in them.

Everything lives in memory (a restart starts an empty world); only file contents are on disk.
Private chats have the id of their user; channels and supergroups have negative ids like
Telegram's `-100...`. Message ids count per chat, as in Telegram.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
MEMBER_STATUSES: tuple[MemberStatus, ...] = ("creator", "administrator", "member", "restricted", "left", "kicked")
PRESENT_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
MediaKind = Literal["video", "audio", "document", "photo"]


@dataclass
class Person:
    """A simulated Telegram user."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    blocked: bool = False  # the user blocked the bot
    started: bool = False  # the user has written to the bot, so the bot may write back


@dataclass
class StoredFile:
    """A file Telegram holds; `file_id` re-sends it without uploading again."""

    file_id: str
    file_unique_id: str
    kind: str  # video, audio, document, photo, thumbnail
    path: Path
    size: int
    sha256: str
    mime_type: str
    file_name: str | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    title: str | None = None
    performer: str | None = None
    thumbnail: StoredFile | None = None
    video_codec: str | None = None  # as ffprobe names it: h264, vp9, ...
    audio_codec: str | None = None  # aac, opus, mp3, ...
    faststart: bool | None = None  # MP4 with moov before mdat; None when not an MP4


@dataclass(frozen=True)
class ForwardOrigin:
    """Where a forwarded message came from: a post of a channel."""

    chat_id: int
    message_id: int
    date: int


@dataclass
class Message:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None  # plain text as the reader sees it (text messages)
    caption: str | None = None  # plain caption (media messages)
    entities: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None  # what the bot sent, before HTML parsing
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    media: StoredFile | None = None
    supports_streaming: bool | None = None  # sendVideo's parameter as sent; None when not given
    start_timestamp: int | None = None  # a video's start, in seconds (sendVideo's parameter)
    cover: StoredFile | None = None  # a video's cover picture (sendVideo's parameter)
    media_group_id: str | None = None  # the album (sendMediaGroup) this message belongs to
    via_bot: bool = False  # sent by the user through the bot's inline mode
    forward: ForwardOrigin | None = None
    edit_count: int = 0
    edit_date: int | None = None
    deleted: bool = False
    at: float = field(default_factory=time.time)  # when it was posted, precisely (benchmarks measure with it)


@dataclass
class Chat:
    id: int
    type: Literal["private", "channel", "supergroup"]
    title: str | None = None
    username: str | None = None  # without "@"
    bot_is_admin: bool = False
    members: dict[int, MemberStatus] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1
    callback_answers: list[dict[str, Any]] = field(default_factory=list)

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def status_of(self, user_id: int) -> MemberStatus:
        return self.members.get(user_id, "left")


@dataclass
class PendingCallback:
    """A button press the bot has not answered yet."""

    id: str
    user_id: int
    message_id: int
    data: str
    answered: bool = False
