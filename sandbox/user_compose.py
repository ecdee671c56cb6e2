"""What a simulated user writes: the body of `POST /sandbox/users/{id}/messages`, checked.

    {"text": str,                      the message; required unless it is a photo
     "photo": true,                    send the sample photo (thumb.jpg, 160x120) instead of text
     "caption": str,                   the photo's caption; a caption alone implies "photo": true
     "entities": [Entity, ...],        entities the test gives, e.g. {"type": "text_link", "offset": 0,
                                       "length": 4, "url": "..."}: offsets and lengths in UTF-16 code
                                       units of text or caption as given; merged with the ones
                                       Telegram detects (url, bot_command, mention...)
     "reply_to_message_id": int,       the user replies to this message of their chat
     "forward_from_chat": str | int,   a channel's @username or id (POST /sandbox/chats first):
                                       the message is a forwarded post of that channel
     "forward_from_message_id": int,   the post's id in the channel (default: the channel's next)
     "first_name", "username", "language_code": str}   the user's profile, updated

The update renders as Telegram renders it: `text`/`entities`, or `photo` (PhotoSize list),
`caption`/`caption_entities`; `reply_to_message`; `forward_origin` ({type: "channel", chat,
message_id, date}) with the legacy `forward_from_chat`, `forward_from_message_id`, `forward_date`.
"""

from __future__ import annotations

from typing import Any

from sandbox.context import Sandbox
from sandbox.entities import Entity, utf16_len
from sandbox.errors import ApiError
from sandbox.markup import given_entities
from sandbox.model import ForwardOrigin, Message, StoredFile
from sandbox.probe import image_size, read_head
from sandbox.world import SimulationError, World, now

SAMPLE_PHOTO = "thumb.jpg"


def field(body: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SimulationError(400, f"{name} must be a {kind.__name__}")
    return value


def user_entities(raw: Any, text: str) -> list[Entity]:
    """The entities a test gives, checked as the Bot API checks a bot's, and inside the text."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SimulationError(400, "entities must be a list of MessageEntity objects")
    try:
        entities = given_entities(raw, text)
    except ApiError as exc:
        raise SimulationError(400, f"entities: {exc.description}") from None
    size = utf16_len(text)
    for entity in entities:
        if entity["offset"] + entity["length"] > size:
            raise SimulationError(400, f"entity {entity} ends beyond the text ({size} UTF-16 code units)")
        if entity["type"] == "text_link" and not isinstance(entity.get("url"), str):
            raise SimulationError(400, "a text_link entity needs a url")
    return entities


def forward_origin(world: World, ref: str | int, message_id: int | None) -> ForwardOrigin:
    if isinstance(ref, str) and ref.strip().lstrip("-").isdigit():
        ref = int(ref)
    chat = world.channel(ref) if isinstance(ref, str) else world.chats.get(ref)
    if chat is None or chat.type != "channel":
        raise SimulationError(404, f"no channel {ref!r}; create it with POST /sandbox/chats")
    if message_id is not None and message_id <= 0:
        raise SimulationError(400, "forward_from_message_id must be positive")
    return ForwardOrigin(chat.id, message_id or chat.new_message_id(), now())


def sample_photo(sb: Sandbox) -> StoredFile:
    source = sb.media_dir / SAMPLE_PHOTO
    if not source.is_file():
        raise SimulationError(503, "the sample photo is not there (sample media unavailable)")
    stored = sb.files.sample(source, "photo")
    if stored.width is None:
        size = image_size(read_head(stored.path))
        if size is not None:
            stored.width, stored.height = size
    return stored


def post_user_message(sb: Sandbox, user_id: int, body: dict[str, Any]) -> Message:
    photo = body.get("photo", "caption" in body)  # a caption alone means the sample photo
    if not isinstance(photo, bool):
        raise SimulationError(400, "photo must be true or false")
    if photo:
        if "text" in body:
            raise SimulationError(400, "a photo message has a caption, not a text")
        text = field(body, "caption", str, required=False) or ""
    else:
        if "caption" in body:
            raise SimulationError(400, "caption goes with a photo; a text message has a text")
        text = field(body, "text", str)
    entities = user_entities(body.get("entities"), text)
    reply_to = field(body, "reply_to_message_id", int, required=False)
    forward = None
    ref = body.get("forward_from_chat")
    if ref is not None:
        if not isinstance(ref, str | int) or isinstance(ref, bool):
            raise SimulationError(400, "forward_from_chat must be a channel's @username or id")
        forward = forward_origin(sb.world, ref, field(body, "forward_from_message_id", int, required=False))
    return sb.world.user_message(
        user_id,
        text,
        entities=entities,
        media=sample_photo(sb) if photo else None,
        reply_to=reply_to,
        forward=forward,
        first_name=field(body, "first_name", str, required=False),
        username=field(body, "username", str, required=False),
        language_code=field(body, "language_code", str, required=False),
    )
