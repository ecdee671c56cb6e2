"""The user-simulation API's views: a private chat as its user sees it, the users, the channels.

A message view: message_id, from ("bot"/"user"), date, at (when posted, Unix seconds with
fractions), text (or caption for media), entities,
html (what the bot sent with parse_mode HTML, else null), reply_markup, reply_to_message_id,
edit_count, edit_date, deleted, and media or null:

    {kind, file_id, file_unique_id, file_name, mime_type, size, sha256, url, duration, width,
     height, has_thumbnail, thumbnail_url, title, performer,
     video_codec, audio_codec, faststart, supports_streaming}

`video_codec` / `audio_codec` are ffprobe's codec names ("h264", "vp9", "aac", "opus"...) of an
uploaded video or audio, null when it has no such stream or is another kind; `faststart` is true
when an MP4's moov box comes before its mdat (it plays while downloading), false when after,
null when the file is not an MP4 or not a video/audio; `supports_streaming` is the sendVideo
parameter as the bot sent it with this message (true/false), null when it was not sent.
A video's media also has `start_timestamp` (seconds, null when not given) and `cover_url` (its
cover picture, null when none), which belong to the message.

A message view also has `media_group_id` (the album it belongs to, null when none) and
`via_bot` (true for a message the user sent through the bot's inline mode).

`inline_view` is the user's inline mode: the last query they typed (`query`: id, text,
chat_type, answered, results as the bot sent them, and the answer's button, cache_time,
is_personal, next_offset), and their target chat (`target`: id, title, messages as above), the
chat where chosen results are sent and inline messages are edited.
"""

from __future__ import annotations

from typing import Any

from sandbox.inline import InlineQuery
from sandbox.model import Chat, Message, StoredFile
from sandbox.world import World

Json = dict[str, Any]


def file_url(base: str, f: StoredFile) -> str:
    return f"{base}/sandbox/files/{f.file_id}"


def media_view(base: str, f: StoredFile, supports_streaming: bool | None = None) -> Json:
    return {
        "kind": f.kind,
        "file_id": f.file_id,
        "file_unique_id": f.file_unique_id,
        "file_name": f.file_name,
        "mime_type": f.mime_type,
        "size": f.size,
        "sha256": f.sha256,
        "url": file_url(base, f),
        "duration": f.duration,
        "width": f.width,
        "height": f.height,
        "has_thumbnail": f.thumbnail is not None,
        "thumbnail_url": file_url(base, f.thumbnail) if f.thumbnail else None,
        "title": f.title,
        "performer": f.performer,
        "video_codec": f.video_codec,
        "audio_codec": f.audio_codec,
        "faststart": f.faststart,
        "supports_streaming": supports_streaming,
    }


def message_view(base: str, m: Message) -> Json:
    out: Json = {"message_id": m.message_id, "from": "bot" if m.from_bot else "user", "date": m.date, "at": m.at}
    if m.media is None:
        out["text"] = m.text or ""
    else:
        out["caption"] = m.caption or ""
    is_html = (m.parse_mode or "").lower() == "html"
    out.update(
        entities=m.entities,
        html=m.source if is_html else None,
        reply_markup=m.reply_markup,
        reply_to_message_id=m.reply_to,
        edit_count=m.edit_count,
        edit_date=m.edit_date,
        deleted=m.deleted,
        media=media_view(base, m.media, m.supports_streaming) if m.media else None,
        media_group_id=m.media_group_id,
        via_bot=m.via_bot,
    )
    if m.media is not None and m.media.kind == "video":
        out["media"].update(start_timestamp=m.start_timestamp, cover_url=file_url(base, m.cover) if m.cover else None)
    return out


def chat_view(world: World, user_id: int, base: str) -> Json:
    """The user's private chat with the bot, oldest first; empty for a user not seen yet."""
    chat = world.chats.get(user_id)
    person = world.people.get(user_id)
    return {
        "user": user_view(world, user_id) if person else None,
        "messages": [message_view(base, m) for m in chat.messages.values()] if chat else [],
        "callback_answers": list(chat.callback_answers) if chat else [],
    }


def user_view(world: World, user_id: int) -> Json:
    p = world.people[user_id]
    return {
        "id": p.id,
        "first_name": p.first_name,
        "username": p.username,
        "language_code": p.language_code,
        "blocked": p.blocked,
    }


def channel_view(chat: Chat) -> Json:
    return {
        "id": chat.id,
        "username": f"@{chat.username}",
        "type": chat.type,
        "title": chat.title,
        "bot_is_admin": chat.bot_is_admin,
        "members": {str(user_id): status for user_id, status in chat.members.items()},
    }


def query_view(asked: InlineQuery) -> Json:
    return {
        "id": asked.id,
        "query": asked.query,
        "chat_type": asked.chat_type,
        "answered": asked.answered,
        "results": [offer.result for offer in asked.offers.values()],
        **asked.answer,
    }


def inline_view(world: World, user_id: int, base: str) -> Json:
    """The user's last inline query and their target chat."""
    inline = world.inline
    asked = inline.queries.get(inline.latest.get(user_id, ""))
    target = inline.targets.get(user_id)
    return {
        "query": query_view(asked) if asked else None,
        "target": {
            "id": target.id if target else None,
            "title": target.title if target else None,
            "messages": [message_view(base, m) for m in target.messages.values()] if target else [],
        },
    }
