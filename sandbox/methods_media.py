"""sendVideo, sendAudio, sendDocument and sendPhoto: an upload (streamed to disk already by the
request reader) or a file_id to re-send. Missing duration or dimensions, and the codecs, are found
with ffprobe, as Telegram finds them itself; and whether an MP4 has its moov box first.

A video may carry `start_timestamp` (seconds, where it starts playing) and a `cover` picture (an
upload, or a photo's file_id), as in Bot API 8.3; both belong to the message, not the file.
`stored_media` is shared with sendMediaGroup and editMessageMedia, whose items are read the same
way (an InputMedia object's fields, `attach://` names resolved against the request's files)."""

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


def reused_file(sb: Sandbox, ref: str, kind: MediaKind | str) -> StoredFile:
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


class Prepared:
    """One file of a send, checked but not yet stored: `store()` keeps an upload once the send was
    admitted, so that a refused send keeps nothing. `bare` keeps the file alone (a cover), without
    the attributes the parameters give a video or audio."""

    def __init__(self, kind: MediaKind, given: UploadedPart | str, p: Params, *, bare: bool = False) -> None:
        self.kind, self.given, self.p, self.bare = kind, given, p, bare
        self.reused: StoredFile | None = None
        self.size: tuple[int, int] | None = None

    def check(self, sb: Sandbox) -> Prepared:
        if isinstance(self.given, str):
            self.reused = reused_file(sb, self.given, self.kind)
        else:
            self.size = _checked(self.given, self.kind)
        return self

    async def store(self, sb: Sandbox) -> StoredFile:
        if self.reused is not None:
            return self.reused
        assert isinstance(self.given, UploadedPart)
        if not self.bare:
            return await _kept(sb, self.given, self.size, self.kind, self.p)
        stored = sb.files.keep(self.given, self.kind)
        if self.size is not None:
            stored.width, stored.height = self.size
        return stored


def prepared(kind: MediaKind, p: Params, name: str) -> Prepared:
    given = p.input_file(name)
    if given is None:
        raise bad_request(f"there is no {kind} in the request")
    return Prepared(kind, given, p)


def cover_of(p: Params) -> Prepared | None:
    """A video's cover: an uploaded picture (kept as a photo) or a photo's file_id."""
    given = p.input_file("cover")
    return None if given is None else Prepared("photo", given, p, bare=True)


def start_timestamp(p: Params) -> int | None:
    if not p.has("start_timestamp"):
        return None
    value = p.integer("start_timestamp") or 0
    if value < 0:
        raise bad_request("invalid start timestamp specified")
    return value


def message_fields(p: Params, kind: MediaKind) -> dict[str, Any]:
    """The fields of a media message that come from its parameters (caption, video extras)."""
    caption, entities = formatted(p, "caption", "caption_entities", caption=True)
    fields: dict[str, Any] = {
        "caption": caption,
        "entities": entities,
        "source": p.text("caption"),
        "parse_mode": parse_mode_of(p),
    }
    if kind == "video":
        fields["supports_streaming"] = p.flag("supports_streaming") if p.has("supports_streaming") else None
        fields["start_timestamp"] = start_timestamp(p)
    return fields


async def send_media(kind: MediaKind, sb: Sandbox, p: Params) -> Any:
    ref = require_chat_id(p)
    item = prepared(kind, p, kind)
    fields = message_fields(p, kind)
    markup = inline_keyboard(p.json("reply_markup"))
    chat = sb.world.writable(ref)
    reply_to = reply_target(chat, p)
    item.check(sb)
    picture = cover_of(p) if kind == "video" else None
    if picture is not None:
        picture.check(sb)
    sb.admit_send(chat)
    stored = await item.store(sb)
    fields["cover"] = await picture.store(sb) if picture is not None else None
    msg = sb.post(chat, media=stored, reply_markup=markup, reply_to=reply_to, **fields)
    return render.message(sb.world, msg)


METHODS: dict[str, Handler] = {
    "sendVideo": partial(send_media, "video"),
    "sendAudio": partial(send_media, "audio"),
    "sendDocument": partial(send_media, "document"),
    "sendPhoto": partial(send_media, "photo"),
}
