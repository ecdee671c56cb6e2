"""The Telegram port: the only view of Telegram that the gateway and the uploader have.

Two adapters implement `TelegramPort`: `core.telegram.mtproto` (kurigram, production default)
and `core.telegram.botapi` (the Bot API over HTTP: the cloud, a self-hosted server, the sandbox).
Nothing outside `core/telegram/` imports pyrogram or the HTTP client; callers see only the types
and errors below.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

# ---- identities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class Chat:
    id: int
    type: Literal["private", "group", "supergroup", "channel"] = "private"
    title: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class BotIdentity:
    id: int
    username: str
    first_name: str


# ---- keyboards ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """An inline button: exactly one of callback_data (at most 64 bytes) or url."""

    text: str
    callback_data: str | None = None
    url: str | None = None


Keyboard = tuple[tuple[Button, ...], ...]


# ---- updates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    type: str  # "url", "text_link", "bot_command", "bold", ... as Telegram names them
    offset: int  # in UTF-16 code units, as Telegram counts
    length: int
    url: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    update_id: int
    message_id: int
    chat: Chat
    sender: User
    date: int
    text: str = ""  # the text, or the caption of a media message
    entities: tuple[Entity, ...] = ()
    reply_to_message_id: int | None = None  # the message this one answers (e.g. /broadcast's message)


@dataclass(frozen=True)
class CallbackQuery:
    update_id: int
    id: str
    sender: User
    chat_id: int
    message_id: int
    data: str


@dataclass(frozen=True)
class ChatMemberChange:
    """Someone joined or left a chat the bot administers (sponsor channels)."""

    update_id: int
    chat: Chat
    user: User
    old_status: MemberStatus
    new_status: MemberStatus


@dataclass(frozen=True)
class BotBlocked:
    """A user blocked (blocked=True) or unblocked the bot in their private chat."""

    update_id: int
    user: User
    blocked: bool


@dataclass(frozen=True)
class InlineQuery:
    """A user typed `@bot <query>` in some chat; answer with `answer_inline_query(id, ...)`."""

    update_id: int
    id: str
    sender: User
    query: str
    chat_type: str | None = None  # "sender", "private", "group", "supergroup", "channel"; None unknown


@dataclass(frozen=True)
class ChosenInlineResult:
    """A user sent one of the bot's inline results. `inline_message_id` names the sent message
    for `edit_inline_*`; Telegram gives it only when the result had a keyboard."""

    update_id: int
    result_id: str
    sender: User
    query: str
    inline_message_id: str | None = None


Update = IncomingMessage | CallbackQuery | ChatMemberChange | BotBlocked | InlineQuery | ChosenInlineResult

MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]


# ---- sending -----------------------------------------------------------------------------------


class MediaKind(enum.StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    PHOTO = "photo"


@dataclass(frozen=True)
class Media:
    """A file to send: from `path` (streamed from disk) or re-sent by `file_id`."""

    kind: MediaKind
    path: Path | None = None
    file_id: str | None = None
    caption: str = ""  # HTML, at most 1024 characters
    file_name: str | None = None
    thumbnail: Path | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    title: str | None = None  # audio
    performer: str | None = None  # audio
    keyboard: Keyboard | None = None
    start_timestamp: int | None = None  # video: it plays from this second (a link's t=)
    cover: Path | None = None  # video: a picture shown before it plays (uploaded with it)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.file_id is None):
            raise ValueError("Media needs exactly one of path or file_id")
        if (self.start_timestamp is not None or self.cover is not None) and self.kind is not MediaKind.VIDEO:
            raise ValueError("start_timestamp and cover belong to a video")
        if self.start_timestamp is not None and self.start_timestamp < 0:
            raise ValueError("start_timestamp is a second of the video, 0 or more")


MIN_ALBUM_ITEMS = 2
MAX_ALBUM_ITEMS = 10  # Telegram's limit; a longer post goes as several albums


def check_album(items: Sequence[Media]) -> None:
    """What Telegram asks of an album: 2-10 items, documents only with documents and audios only
    with audios (photos and videos mix), no keyboard; and what both adapters can carry: no video
    start or cover in an album. Raises ValueError before anything is sent."""
    if not MIN_ALBUM_ITEMS <= len(items) <= MAX_ALBUM_ITEMS:
        raise ValueError(f"an album has {MIN_ALBUM_ITEMS}-{MAX_ALBUM_ITEMS} items, not {len(items)}")
    kinds = {item.kind for item in items}
    for alone in (MediaKind.DOCUMENT, MediaKind.AUDIO):
        if alone in kinds and len(kinds) > 1:
            raise ValueError(f"{alone.value}s are grouped only with {alone.value}s")
    if any(item.keyboard is not None for item in items):
        raise ValueError("an album has no keyboard")
    if any(item.start_timestamp is not None or item.cover is not None for item in items):
        raise ValueError("an album's videos have no start_timestamp or cover")


# ---- inline mode ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedResult:
    """An inline result that sends a file the bot uploaded before, by its file_id."""

    id: str  # 1-64 bytes, unique in the answer
    kind: MediaKind
    file_id: str
    title: str = ""  # shown in the list (videos and documents need one)
    description: str = ""
    caption: str = ""  # HTML
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class ArticleResult:
    """An inline result that sends a text message (HTML); with a keyboard, the bot can later edit
    it by the chosen result's inline_message_id (into a file, with `edit_inline_media`)."""

    id: str
    title: str
    text: str
    description: str = ""
    keyboard: Keyboard | None = None


InlineResult = CachedResult | ArticleResult


@dataclass(frozen=True)
class InlineButton:
    """A button above the inline results that opens the bot's private chat with `/start <start_parameter>`."""

    text: str
    start_parameter: str  # 1-64 of A-Z a-z 0-9 _ -


@dataclass(frozen=True)
class SentMessage:
    chat_id: int
    message_id: int


@dataclass(frozen=True)
class SentMedia:
    chat_id: int
    message_id: int
    file_id: str  # for re-sending the same media later
    file_unique_id: str = ""
    size: int = 0


# Called with (bytes sent, total bytes) as parts of an upload are confirmed; must not block.
Progress = Callable[[int, int], None]


# ---- errors ------------------------------------------------------------------------------------


class TelegramError(Exception):
    """Base of every error the port raises."""


@dataclass
class FloodWait(TelegramError):
    """Telegram asked us to wait `seconds` before the next call of this `scope`."""

    seconds: float
    scope: Literal["global", "chat", "method"] = "global"

    def __str__(self) -> str:
        return f"flood wait {self.seconds:g}s ({self.scope})"


class Blocked(TelegramError):
    """The user blocked the bot (or deleted their account)."""


class ChatNotFound(TelegramError):
    """The chat does not exist or the bot cannot see it."""


class NotModified(TelegramError):
    """An edit changed nothing; harmless."""


class TooLarge(TelegramError):
    """The file is bigger than this backend accepts."""


@dataclass
class BadRequest(TelegramError):
    reason: str

    def __str__(self) -> str:
        return self.reason


class MessageGone(BadRequest):
    """The message a call names is gone (deleted, or never there) or no longer the bot's to edit
    or delete: an edit or a delete of it has nothing left to do, a copy of it has no source."""


class StaleFileId(BadRequest):
    """Telegram no longer takes this file_id (an expired file reference, another bot's id, a
    session that is gone): the file must be uploaded again."""


class Transient(TelegramError):
    """Network trouble or a 5xx: worth retrying."""


# ---- the port ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateBatch:
    """Updates handed to the receiver. Call `port.confirm(batch)` once they are handled
    durably; unconfirmed updates are delivered again after a restart."""

    updates: Sequence[Update]
    last_update_id: int = field(default=0)


class TelegramPort(Protocol):
    """What the bot may ask of Telegram. Use as `async with adapter as port:`."""

    upload_limit: int  # bytes this backend accepts in one file

    async def __aenter__(self) -> TelegramPort: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def get_me(self) -> BotIdentity: ...

    async def get_updates(self, timeout: float) -> UpdateBatch:
        """Wait up to `timeout` seconds for updates; an empty batch when none came."""
        ...

    async def confirm(self, batch: UpdateBatch) -> None: ...

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        reply_to: int | None = None,
        html: bool = True,
    ) -> SentMessage: ...

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None: ...

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None: ...

    async def delete_message(self, chat_id: int, message_id: int) -> None: ...

    async def send_media(
        self, chat_id: int, media: Media, *, progress: Progress | None = None, reply_to: int | None = None
    ) -> SentMedia:
        """Upload from disk or re-send by file_id. Cancelling the calling task stops the upload."""
        ...

    async def copy_message(self, to_chat_id: int, from_chat_id: int, message_id: int) -> SentMessage: ...

    async def answer_callback(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None: ...

    async def get_chat_member(self, chat: int | str, user_id: int) -> MemberStatus:
        """`chat` is an id or "@username"; ChatNotFound when the bot cannot see it."""
        ...

    async def send_media_group(
        self, chat_id: int, items: Sequence[Media], *, reply_to: int | None = None
    ) -> list[SentMedia]:
        """An album (`check_album`): each item uploaded from disk or re-sent by file_id, each its
        own message in order; each item's caption is its own (put the post's text on the first).
        No upload progress is reported."""
        ...

    async def edit_media(
        self, chat_id: int, message_id: int, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        """Replace a message's media and caption (a status message becomes the file)."""
        ...

    async def answer_inline_query(
        self,
        query_id: str,
        results: Sequence[InlineResult],
        *,
        cache_time: int = 0,
        personal: bool = True,
        button: InlineButton | None = None,
    ) -> None:
        """At most 50 results; `personal`: the answer is for this user only (gates differ)."""
        ...

    async def edit_inline_text(
        self, inline_message_id: str, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> None: ...

    async def edit_inline_media(
        self, inline_message_id: str, media: Media, *, keyboard: Keyboard | None = None
    ) -> None:
        """Turn an inline message into a file: by file_id only (upload it elsewhere first)."""
        ...
