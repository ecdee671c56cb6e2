"""Bot API JSON shapes (User, Chat, Message, ChatMember, ...), field by field as Telegram sends them.

Optional fields are left out when empty, as Telegram does; `is_bot`, ids and dates are always there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.model import Chat, ForwardOrigin, Message, Person, StoredFile

if TYPE_CHECKING:
    from sandbox.world import World

BOT_FIRST_NAME = "Sandbox Bot"
BOT_USERNAME = "sandbox_bot"
MAX_REACTIONS = 11
Json = dict[str, Any]


def bot_user(bot_id: int) -> Json:
    return {"id": bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}


def get_me(bot_id: int) -> Json:
    return {
        **bot_user(bot_id),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
        "can_connect_to_business": False,
        "has_main_web_app": False,
        "has_topics_enabled": False,
        "allows_users_to_create_topics": False,
    }


def person(p: Person) -> Json:
    out: Json = {"id": p.id, "is_bot": False, "first_name": p.first_name}
    if p.username:
        out["username"] = p.username
    if p.language_code:
        out["language_code"] = p.language_code
    return out


def chat(world: World, c: Chat) -> Json:
    if c.type == "private":
        p = world.people[c.id]
        out: Json = {"id": c.id, "first_name": p.first_name}
        if p.username:
            out["username"] = p.username
        out["type"] = "private"
        return out
    out = {"id": c.id, "title": c.title or c.username or str(c.id)}
    if c.username:
        out["username"] = c.username
    out["type"] = c.type
    return out


def chat_full_info(world: World, c: Chat) -> Json:
    """getChat's ChatFullInfo: the Chat fields plus the ones Telegram always includes."""
    return {
        **chat(world, c),
        "accent_color_id": abs(c.id) % 7,
        "max_reaction_count": MAX_REACTIONS,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def photo_size(f: StoredFile) -> Json:
    return {
        "file_id": f.file_id,
        "file_unique_id": f.file_unique_id,
        "width": f.width or 0,
        "height": f.height or 0,
        "file_size": f.size,
    }


def media(f: StoredFile) -> Any:
    """The Video / Audio / Document object, or the PhotoSize list of a photo."""
    if f.kind == "photo":
        return [photo_size(f)]
    out: Json = {"file_id": f.file_id, "file_unique_id": f.file_unique_id}
    if f.kind == "video":
        out.update(width=f.width or 0, height=f.height or 0, duration=f.duration or 0)
    elif f.kind == "audio":
        out["duration"] = f.duration or 0
        if f.performer:
            out["performer"] = f.performer
        if f.title:
            out["title"] = f.title
    if f.thumbnail is not None:
        out["thumbnail"] = photo_size(f.thumbnail)
    if f.file_name:
        out["file_name"] = f.file_name
    out["mime_type"] = f.mime_type
    out["file_size"] = f.size
    return out


def video_extras(m: Message) -> Json:
    """The Video fields that belong to one message of it: its cover and start timestamp."""
    out: Json = {}
    if m.cover is not None:
        out["cover"] = [photo_size(m.cover)]
    if m.start_timestamp is not None:
        out["start_timestamp"] = m.start_timestamp
    return out


def forwarded(world: World, origin: ForwardOrigin) -> Json:
    """A channel post's forward fields: `forward_origin` and the legacy ones the Bot API still sends."""
    source = chat(world, world.chats[origin.chat_id])
    return {
        "forward_origin": {"type": "channel", "chat": source, "message_id": origin.message_id, "date": origin.date},
        "forward_from_chat": source,
        "forward_from_message_id": origin.message_id,
        "forward_date": origin.date,
    }


def message(world: World, m: Message, *, with_reply: bool = True) -> Json:
    c = world.chats[m.chat_id]
    out: Json = {"message_id": m.message_id}
    if m.from_bot and c.type == "channel":
        out["sender_chat"] = chat(world, c)
    elif m.from_bot:
        out["from"] = bot_user(world.bot_id)
    else:
        out["from"] = person(world.people[c.id])
    out["chat"] = chat(world, c)
    out["date"] = m.date
    if m.media_group_id is not None:
        out["media_group_id"] = m.media_group_id
    if m.forward is not None:
        out.update(forwarded(world, m.forward))
    if m.edit_date is not None:
        out["edit_date"] = m.edit_date
    if m.reply_to is not None and with_reply:
        replied = c.messages.get(m.reply_to)
        if replied is not None and not replied.deleted:
            out["reply_to_message"] = message(world, replied, with_reply=False)
    if m.media is None:
        out["text"] = m.text or ""
        if m.entities:
            out["entities"] = m.entities
    else:
        out[m.media.kind] = media(m.media)
        if m.media.kind == "video":
            out["video"].update(video_extras(m))
        if m.caption:
            out["caption"] = m.caption
            if m.entities:
                out["caption_entities"] = m.entities
    if m.reply_markup:
        out["reply_markup"] = m.reply_markup
    return out


ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
MEMBER_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
)


def chat_member(user: Json, status: str, chat_type: str = "channel") -> Json:
    """A ChatMember of the given status with every field that status requires."""
    out: Json = {"user": user, "status": status}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        out.update({"can_be_edited": False, "is_anonymous": False})
        out.update(dict.fromkeys(ADMIN_RIGHTS, True))
        if chat_type == "channel":
            out.update(can_post_messages=True, can_edit_messages=True)
        else:
            out.update(can_pin_messages=True, can_manage_topics=False)
    elif status == "restricted":
        out["is_member"] = True
        out.update(dict.fromkeys(MEMBER_RIGHTS, False))
        out["until_date"] = 0
    elif status == "kicked":
        out["until_date"] = 0
    return out
