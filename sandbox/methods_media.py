"""sendVideo, sendAudio, sendDocument and sendPhoto: an upload (streamed to disk already by the
request reader) or a file_id to re-send. Missing duration or dimensions, and the codecs, are found
with ffprobe, as Telegram finds them itself; and whether an MP4 has its moov box first."""

from __future__ import annotations

from functools import partial
from typing import Any

from sandbox import render
from sandbox.context import Sandbox
from sandbox.errors import bad_request
from sandbox.markup import inline_keyboard
from sandbox.methods_text import Handler, formatted, parse_mode_of, reply_target, require_chat_id
from sandbox.model import MediaKind, StoredFile
from sandbox.multipart import UploadedPart
from sandbox.params import Params
from sandbox.probe import image_size, mp4_faststart, probe_av, read_head

# What ffprobe fills in when the bot did not say it (Telegram finds these by itself).
PROBED = {
    "video": ("duration", "width", "height", "video_codec", "audio_codec"),
    "audio": ("duration", "audio_codec"),
}


def _reused(sb: Sandbox, ref: str, kind: MediaKind) -> StoredFile:
    if ref.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")  # the sandbox fetches nothing
    stored = sb.files.get(ref.strip())
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind:
        raise bad_request(f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}")
    return stored


def _checked(part: UploadedPart, kind: MediaKind) -> tuple[int, int] | None:
    """Refuse what Telegram refuses before storing; a photo's dimensions."""
    if part.size == 0:
        raise bad_request("file must be non-empty")
    if kind != "photo":
        return None
    size = image_size(read_head(part.path))
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    return size


async def _kept(
    sb: Sandbox, part: UploadedPart, size: tuple[int, int] | None, kind: MediaKind, p: Params
) -> StoredFile:
    stored = sb.files.keep(part, kind)
    if size is not None:
        stored.width, stored.height = size
    stored.duration, stored.width, stored.height = (
        p.integer("duration"),
        p.integer("width") or stored.width,
        p.integer("height") or stored.height,
    )
    wanted = PROBED.get(kind, ())
    if wanted:
        for name, value in (await probe_av(stored.path)).items():
            if name in wanted and getattr(stored, name) is None:
                setattr(stored, name, value)
        stored.faststart = mp4_faststart(stored.path)
    if kind == "audio":
        stored.title, stored.performer = p.text("title"), p.text("performer")
    thumb = p.input_file("thumbnail") or p.input_file("thumb")
    if isinstance(thumb, UploadedPart) and thumb is not part and thumb.size > 0:
        thumb_size = image_size(read_head(thumb.path))
        stored.thumbnail = sb.files.keep(thumb, "thumbnail")
        if thumb_size is not None:
            stored.thumbnail.width, stored.thumbnail.height = thumb_size
    return stored


async def send_media(kind: MediaKind, sb: Sandbox, p: Params) -> Any:
    ref = require_chat_id(p)
    given = p.input_file(kind)
    if given is None:
        raise bad_request(f"there is no {kind} in the request")
    caption, entities = formatted(p, "caption", "caption_entities", caption=True)
    markup = inline_keyboard(p.json("reply_markup"))
    chat = sb.world.writable(ref)
    reply_to = reply_target(chat, p)
    if isinstance(given, str):
        stored = _reused(sb, given, kind)
        sb.admit_send(chat)
    else:
        size = _checked(given, kind)
        sb.admit_send(chat)
        stored = await _kept(sb, given, size, kind, p)
    msg = sb.post(
        chat,
        caption=caption,
        entities=entities,
        source=p.text("caption"),
        parse_mode=parse_mode_of(p),
        media=stored,
        supports_streaming=p.flag("supports_streaming") if kind == "video" and p.has("supports_streaming") else None,
        reply_markup=markup,
        reply_to=reply_to,
    )
    return render.message(sb.world, msg)


METHODS: dict[str, Handler] = {
    "sendVideo": partial(send_media, "video"),
    "sendAudio": partial(send_media, "audio"),
    "sendDocument": partial(send_media, "document"),
    "sendPhoto": partial(send_media, "photo"),
}
