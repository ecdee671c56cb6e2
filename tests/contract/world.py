"""What the contract suite needs from the Telegram it runs against.

Each adapter's fixture provides a `World`: for botapi, the real sandbox driven through its
user-simulation API; for mtproto, the in-test fake at the RPC boundary. Tests act as users and
inspect what users would see only through this interface, so every case runs on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.telegram.port import MemberStatus


@dataclass(frozen=True)
class ChatRecord:
    """One message of a user's private chat with the bot, as the user sees it."""

    message_id: int
    from_bot: bool
    text: str  # text or caption
    edit_count: int = 0
    deleted: bool = False
    media_kind: str | None = None  # "video", "audio", "document", "photo"
    media_sha256: str | None = None
    media_size: int | None = None
    has_thumbnail: bool = False
    has_keyboard: bool = False
    media_group_id: str | None = None  # the album it belongs to
    start_timestamp: int | None = None  # a video's start
    via_bot: bool = False  # sent by the user through the bot's inline mode


class World(Protocol):
    async def user_message(
        self, user_id: int, text: str, *, language_code: str = "en", reply_to: int | None = None
    ) -> int:
        """The user sends `text` to the bot (in reply to message `reply_to` of the chat); returns
        the new message's id."""
        ...

    async def user_callback(self, user_id: int, message_id: int, data: str) -> str:
        """The user presses an inline button; returns the callback query id."""
        ...

    async def block(self, user_id: int) -> None: ...

    async def create_channel(self, username: str, *, bot_is_admin: bool = True) -> None: ...

    async def set_member(self, channel: str, user_id: int, status: MemberStatus) -> None: ...

    async def chat(self, user_id: int) -> list[ChatRecord]: ...

    async def force_flood(self, retry_after: int) -> None:
        """The next send of the bot is refused with a flood wait of `retry_after` seconds."""
        ...

    async def inline_query(self, user_id: int, query: str) -> str:
        """The user types `@bot <query>` in a chat with a friend; returns the inline query's id."""
        ...

    async def inline_results(self, user_id: int) -> list[str]:
        """The ids of the results the bot answered the user's last query with ([] before it did)."""
        ...

    async def choose_inline_result(self, user_id: int, result_id: str) -> str | None:
        """The user sends a result of the bot's answer to their last query into their chat with a
        friend; returns the inline_message_id Telegram gives the bot (None without a keyboard)."""
        ...

    async def target_chat(self, user_id: int) -> list[ChatRecord]:
        """The user's chat with the friend, where chosen results land and are edited."""
        ...
