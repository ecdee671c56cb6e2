"""The fake Telegram's records: accounts, users, channels, messages, files and uploads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

BOT_ID = 7_000_001
PREMIUM_ID = 7_000_002
OWNER_ID = 7_000_003  # creates the channels
FIRST_CHANNEL_ID = 1_900_000_001


@dataclass
class Account:
    """A logged-in identity: the bot, or the Premium user."""

    user: int
    next_message_id: int = 1
    pts: int = 1
    qts: int = 1
    log: list[tuple[int, Any]] = field(default_factory=list)  # (pts, update) for getDifference
    qts_log: list[tuple[int, Any]] = field(default_factory=list)  # (qts, update)


@dataclass
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    lang_code: str | None = None
    bot: bool = False
    premium: bool = False
    started_bot: bool = False  # wrote to the bot, so the bot may write back
    blocked_bot: bool = False


@dataclass
class StoredFile:
    id: int
    access_hash: int
    owner: int
    kind: str  # video, audio, document, photo
    size: int
    sha256: str
    mime_type: str
    attributes: list[Any]
    has_thumbnail: bool


@dataclass
class FakeMessage:
    id: int
    owner: int  # whose copy of the private chat this is
    peer: int  # the user at the other end
    out: bool
    date: int
    text: str
    entities: list[Any]
    markup: Any = None
    file: StoredFile | None = None
    reply_to: int | None = None
    edit_count: int = 0
    deleted: bool = False
    grouped_id: int | None = None  # the album it belongs to
    start_timestamp: int | None = None  # a video's start (video_timestamp)
    via_bot: bool = False  # sent by the user through the bot's inline mode


@dataclass
class InlineAsk:
    """An inline query a user typed, and the bot's answer: result id -> raw InputBotInlineResult."""

    query_id: int
    user_id: int
    query: str
    answered: bool = False
    results: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeChannel:
    id: int
    access_hash: int
    username: str
    title: str
    bot_is_admin: bool
    members: dict[int, str] = field(default_factory=dict)


@dataclass
class Upload:
    """A file being assembled from its parts, hashed as contiguous parts arrive."""

    parts: dict[int, bytes] = field(default_factory=dict)
    next_part: int = 0
    size: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)
    md5: Any = field(default_factory=hashlib.md5)
    total_parts: int | None = None

    def add(self, part: int, data: bytes) -> None:
        if part >= self.next_part:
            self.parts[part] = data
        while self.next_part in self.parts:
            chunk = self.parts.pop(self.next_part)
            self.sha256.update(chunk)
            self.md5.update(chunk)
            self.size += len(chunk)
            self.next_part += 1
