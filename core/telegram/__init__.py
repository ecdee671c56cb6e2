"""Talking to Telegram: the port's types and errors, and `open_port` to pick the adapter.

Callers import only from here. The adapters are imported when chosen, so a bot running on the
Bot API never imports pyrogram, and one running on MTProto never needs the HTTP adapter.
"""

from __future__ import annotations

from core.config import Settings
from core.telegram.port import MAX_ALBUM_ITEMS as MAX_ALBUM_ITEMS
from core.telegram.port import ArticleResult as ArticleResult
from core.telegram.port import BadRequest as BadRequest
from core.telegram.port import Blocked as Blocked
from core.telegram.port import BotBlocked as BotBlocked
from core.telegram.port import BotIdentity as BotIdentity
from core.telegram.port import Button as Button
from core.telegram.port import CachedResult as CachedResult
from core.telegram.port import CallbackQuery as CallbackQuery
from core.telegram.port import Chat as Chat
from core.telegram.port import ChatMemberChange as ChatMemberChange
from core.telegram.port import ChatNotFound as ChatNotFound
from core.telegram.port import ChosenInlineResult as ChosenInlineResult
from core.telegram.port import Entity as Entity
from core.telegram.port import FloodWait as FloodWait
from core.telegram.port import IncomingMessage as IncomingMessage
from core.telegram.port import InlineButton as InlineButton
from core.telegram.port import InlineQuery as InlineQuery
from core.telegram.port import InlineResult as InlineResult
from core.telegram.port import Keyboard as Keyboard
from core.telegram.port import Media as Media
from core.telegram.port import MediaKind as MediaKind
from core.telegram.port import MemberStatus as MemberStatus
from core.telegram.port import MessageGone as MessageGone
from core.telegram.port import NotModified as NotModified
from core.telegram.port import Progress as Progress
from core.telegram.port import SentMedia as SentMedia
from core.telegram.port import SentMessage as SentMessage
from core.telegram.port import StaleFileId as StaleFileId
from core.telegram.port import TelegramError as TelegramError
from core.telegram.port import TelegramPort as TelegramPort
from core.telegram.port import TooLarge as TooLarge
from core.telegram.port import Transient as Transient
from core.telegram.port import Update as Update
from core.telegram.port import UpdateBatch as UpdateBatch
from core.telegram.port import User as User
from core.telegram.port import check_album as check_album


def open_port(settings: Settings, *, role: str) -> TelegramPort:
    """A fresh adapter for `settings.telegram_backend`, not yet entered: `async with open_port(...) as port:`.

    `role` names the process ("gateway", "uploader", ...): the mtproto adapter keeps one session
    per role and receives updates only for the gateway.
    """
    if settings.telegram_backend == "botapi":
        from core.telegram.botapi import BotApiAdapter

        return BotApiAdapter(settings, role=role)
    if settings.telegram_backend == "mtproto":
        from core.telegram.mtproto import MtprotoAdapter

        adapter: TelegramPort = MtprotoAdapter(settings, role=role)
        return adapter
    raise ValueError(f"unknown TELEGRAM_BACKEND {settings.telegram_backend!r}")
