"""Between kurigram's types and the port's: raw updates in, keyboards and statuses out.

Updates are read from the raw TL objects (what Telegram sent, with entity offsets in UTF-16 code
units as the port wants them), not from pyrogram's parsed `Message`, so nothing is lost or
re-counted on the way.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pyrogram import enums, raw, types, utils

from core.telegram.port import (
    BotBlocked,
    Button,
    CallbackQuery,
    Chat,
    ChatMemberChange,
    ChosenInlineResult,
    Entity,
    IncomingMessage,
    InlineQuery,
    Keyboard,
    MemberStatus,
    Update,
    User,
)

RawUsers = dict[int, Any]
RawChats = dict[int, Any]

# Bot API names of the entity types whose raw name does not simply snake-case into them.
ENTITY_NAMES = {
    "TextUrl": "text_link",
    "MentionName": "text_mention",
    "Strike": "strikethrough",
    "Phone": "phone_number",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")

# The Bot API's chat_type of an inline query, by the raw peer type Telegram gives.
INLINE_CHAT_TYPES: dict[type, str] = {
    raw.types.InlineQueryPeerTypeSameBotPM: "sender",
    raw.types.InlineQueryPeerTypePM: "private",
    raw.types.InlineQueryPeerTypeBotPM: "private",
    raw.types.InlineQueryPeerTypeChat: "group",
    raw.types.InlineQueryPeerTypeMegagroup: "supergroup",
    raw.types.InlineQueryPeerTypeBroadcast: "channel",
}

MEMBER_STATUS: dict[enums.ChatMemberStatus, MemberStatus] = {
    enums.ChatMemberStatus.OWNER: "creator",
    enums.ChatMemberStatus.ADMINISTRATOR: "administrator",
    enums.ChatMemberStatus.MEMBER: "member",
    enums.ChatMemberStatus.RESTRICTED: "restricted",
    enums.ChatMemberStatus.LEFT: "left",
    enums.ChatMemberStatus.BANNED: "kicked",
}


# ---- out: keyboards ------------------------------------------------------------------------------


def markup(keyboard: Keyboard | None) -> types.InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return types.InlineKeyboardMarkup([[_button(b) for b in row] for row in keyboard])


def _button(button: Button) -> types.InlineKeyboardButton:
    if button.url is not None:
        return types.InlineKeyboardButton(button.text, url=button.url)
    return types.InlineKeyboardButton(button.text, callback_data=button.callback_data or "")


def member_status(status: enums.ChatMemberStatus) -> MemberStatus:
    return MEMBER_STATUS[status]


# ---- in: updates ---------------------------------------------------------------------------------


def convert(update: Any, users: RawUsers, chats: RawChats, update_id: int) -> Update | None:
    """The port's update for a raw one, or None for what the bot does not consume."""
    if isinstance(update, raw.types.UpdateNewMessage):
        return _incoming(update.message, users, chats, update_id)
    if isinstance(update, raw.types.UpdateBotCallbackQuery):
        return CallbackQuery(
            update_id=update_id,
            id=str(update.query_id),
            sender=_user(update.user_id, users),
            chat_id=utils.get_peer_id(update.peer),
            message_id=update.msg_id,
            data=(update.data or b"").decode("utf-8", "replace"),
        )
    if isinstance(update, raw.types.UpdateBotStopped):
        return BotBlocked(update_id=update_id, user=_user(update.user_id, users), blocked=bool(update.stopped))
    if isinstance(update, raw.types.UpdateBotInlineQuery):
        return InlineQuery(
            update_id=update_id,
            id=str(update.query_id),
            sender=_user(update.user_id, users),
            query=update.query,
            chat_type=INLINE_CHAT_TYPES.get(type(update.peer_type)),
        )
    if isinstance(update, raw.types.UpdateBotInlineSend):
        return ChosenInlineResult(
            update_id=update_id,
            result_id=update.id,
            sender=_user(update.user_id, users),
            query=update.query,
            # As kurigram's ChosenInlineResult packs it, so that edit_inline_* can unpack it.
            inline_message_id=utils.pack_inline_message_id(update.msg_id) if update.msg_id else None,
        )
    if isinstance(update, raw.types.UpdateChannelParticipant):
        return ChatMemberChange(
            update_id=update_id,
            chat=_chat(raw.types.PeerChannel(channel_id=update.channel_id), users, chats),
            user=_user(update.user_id, users),
            old_status=participant_status(update.prev_participant),
            new_status=participant_status(update.new_participant),
        )
    return None


def _incoming(message: Any, users: RawUsers, chats: RawChats, update_id: int) -> IncomingMessage | None:
    if not isinstance(message, raw.types.Message) or message.out:
        return None  # service messages, and the bot's own messages echoed back in a difference
    sender_peer = message.from_id or message.peer_id
    if not isinstance(sender_peer, raw.types.PeerUser):
        return None  # posts signed by a channel
    return IncomingMessage(
        update_id=update_id,
        message_id=message.id,
        chat=_chat(message.peer_id, users, chats),
        sender=_user(sender_peer.user_id, users),
        date=message.date,
        text=message.message or "",
        entities=tuple(_entity(e) for e in message.entities or ()),
        reply_to_message_id=getattr(message.reply_to, "reply_to_msg_id", None) if message.reply_to else None,
    )


def _entity(entity: Any) -> Entity:
    name = type(entity).__name__.removeprefix("MessageEntity")
    kind = ENTITY_NAMES.get(name) or _CAMEL.sub("_", name).lower()
    return Entity(type=kind, offset=entity.offset, length=entity.length, url=getattr(entity, "url", None))


def _user(user_id: int, users: RawUsers) -> User:
    found = users.get(user_id)
    if not isinstance(found, raw.types.User):
        return User(id=user_id)
    return User(
        id=found.id,
        first_name=found.first_name or "",
        username=found.username,
        language_code=found.lang_code,
        is_bot=bool(found.bot),
    )


def _chat(peer: Any, users: RawUsers, chats: RawChats) -> Chat:
    chat_id = utils.get_peer_id(peer)
    if isinstance(peer, raw.types.PeerUser):
        found = users.get(peer.user_id)
        return Chat(id=chat_id, type="private", username=getattr(found, "username", None))
    if isinstance(peer, raw.types.PeerChat):
        found = chats.get(peer.chat_id)
        return Chat(id=chat_id, type="group", title=getattr(found, "title", None))
    found = chats.get(peer.channel_id)
    kind: Literal["channel", "supergroup"] = "channel" if getattr(found, "broadcast", False) else "supergroup"
    return Chat(id=chat_id, type=kind, title=getattr(found, "title", None), username=getattr(found, "username", None))


def participant_status(participant: Any) -> MemberStatus:
    """A raw channel participant (or None: not in the channel) as a member status."""
    if isinstance(participant, raw.types.ChannelParticipantCreator):
        return "creator"
    if isinstance(participant, raw.types.ChannelParticipantAdmin):
        return "administrator"
    if isinstance(participant, raw.types.ChannelParticipantBanned):
        return "kicked" if participant.banned_rights.view_messages else "restricted"
    if isinstance(participant, (raw.types.ChannelParticipant, raw.types.ChannelParticipantSelf)):
        return "member"
    return "left"
