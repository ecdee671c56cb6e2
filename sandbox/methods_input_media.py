"""The methods that take InputMedia objects: sendMediaGroup (an album) and editMessageMedia.

An InputMedia is `{"type", "media", "caption", "parse_mode", "caption_entities", ...}` plus the
fields of its kind (a video's width, height, duration, supports_streaming, thumbnail, cover,
start_timestamp; an audio's title and performer); `media` (and `thumbnail`, `cover`) is a
file_id or `attach://<part>` naming a file part of the multipart request.

sendMediaGroup, as the official server and TDLib do: 1-10 items (one is sent as a plain message,
outside any album); documents only with documents, audios only with audios; each item is its own
message, in order, sharing a `media_group_id`, each replying to the same message; no
reply_markup is read. Every file is checked before anything is sent, so a refused album sends
and stores nothing. It counts as one send of N messages against the limits (`sandbox.limits`).

editMessageMedia replaces a message's media (and caption): for an inline message only by
file_id, since a new file cannot be uploaded there; a message of an album keeps to its album's
kinds (a photo or video album stays photos and videos).
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from sandbox import render
from sandbox.context import Sandbox
from sandbox.errors import NOT_MODIFIED, bad_request
from sandbox.markup import inline_keyboard
from sandbox.methods_media import Prepared, cover_of, message_fields
from sandbox.methods_text import Handler, edit_target, edited, reply_target, require_chat_id
from sandbox.model import MediaKind, StoredFile
from sandbox.multipart import UploadedPart
from sandbox.params import ATTACH_PREFIX, Params

MAX_ALBUM_ITEMS = 10
GROUP_ID_BITS = 63
ALBUM_KINDS = ("photo", "video", "audio", "document")
ALONE_KINDS = ("audio", "document")  # grouped only with their own kind


def _parse_error(reason: str) -> Exception:
    return bad_request(f"can't parse InputMedia: {reason}")


def input_media(raw: Any, p: Params, *, method: str) -> tuple[MediaKind, Params]:
    """An InputMedia object as its kind and its own parameters (attach:// resolved against `p`)."""
    if not isinstance(raw, dict):
        raise _parse_error("expected an Object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise _parse_error('Field "type" must be of type String')
    if kind == "animation" and method == "sendMediaGroup":
        raise _parse_error(f'type "{kind}" can\'t be used in {method}')
    if kind not in ALBUM_KINDS:
        raise _parse_error(f'type "{kind}" is unsupported')
    if not isinstance(raw.get("media"), str) or not raw["media"]:
        raise _parse_error('Field "media" must be of type String')
    item = Params(dict(raw), p.files)
    for name in ("media", "thumbnail", "cover"):
        value = raw.get(name)
        if isinstance(value, str) and value.startswith(ATTACH_PREFIX) and value[len(ATTACH_PREFIX) :] not in p.files:
            raise _parse_error("media not found")
    return cast(MediaKind, kind), item


def _album_items(p: Params) -> list[tuple[MediaKind, Params]]:
    raw = p.json("media")
    if raw is None:
        raise bad_request('parameter "media" is required')
    if not isinstance(raw, list):
        raise bad_request("can't parse media JSON object")
    if not raw:
        raise bad_request("there are no messages to send")
    if len(raw) > MAX_ALBUM_ITEMS:
        raise bad_request("too many messages to send as an album")
    return [input_media(entry, p, method="sendMediaGroup") for entry in raw]


def _check_mixing(kinds: list[MediaKind]) -> None:
    for alone in ALONE_KINDS:
        if alone in kinds and any(kind != alone for kind in kinds):
            raise bad_request(f"{alone} can't be mixed with other media types")


class _Files:
    """Each item's file, and its cover; one upload named by two items is stored once."""

    def __init__(self) -> None:
        self.kept: dict[int, StoredFile] = {}

    async def store(self, sb: Sandbox, prepared: Prepared | None) -> StoredFile | None:
        if prepared is None:
            return None
        if isinstance(prepared.given, UploadedPart):
            key = id(prepared.given)
            if key not in self.kept:
                self.kept[key] = await prepared.store(sb)
            return self.kept[key]
        return await prepared.store(sb)


async def send_media_group(sb: Sandbox, p: Params) -> Any:
    ref = require_chat_id(p)
    items = _album_items(p)
    fields = [message_fields(item, kind) for kind, item in items]
    chat = sb.world.writable(ref)
    reply_to = reply_target(chat, p)
    files = [Prepared(kind, item.input_file("media") or "", item).check(sb) for kind, item in items]
    covers = [cover_of(item) if kind == "video" else None for kind, item in items]
    for picture in covers:
        if picture is not None:
            picture.check(sb)
    _check_mixing([kind for kind, _ in items])
    sb.admit_send(chat, len(items))
    group_id = str(secrets.randbits(GROUP_ID_BITS)) if len(items) > 1 else None
    store, sent = _Files(), []
    for prepared, picture, extra in zip(files, covers, fields, strict=True):
        extra["cover"] = await store.store(sb, picture)
        stored = await store.store(sb, prepared)
        msg = sb.post(chat, media=stored, media_group_id=group_id, reply_to=reply_to, **extra)
        sent.append(render.message(sb.world, msg))
    return sent


async def edit_message_media(sb: Sandbox, p: Params) -> Any:
    raw = p.json("media")
    if raw is None:
        raise bad_request('parameter "media" is required')
    kind, item = input_media(raw, p, method="editMessageMedia")
    fields = message_fields(item, kind)
    markup = inline_keyboard(p.json("reply_markup"))
    chat, msg = edit_target(sb, p)
    given = item.input_file("media") or ""
    if msg.via_bot and isinstance(given, UploadedPart):
        raise bad_request("can't use an uploaded file in an inline message: send it by file_id")
    prepared = Prepared(kind, given, item).check(sb)
    picture = cover_of(item) if kind == "video" else None
    if picture is not None:
        picture.check(sb)
    if msg.media_group_id is not None and msg.media is not None:
        _check_mixing([kind, cast(MediaKind, msg.media.kind)])
    same_file = isinstance(given, str) and msg.media is not None and msg.media.file_id == given.strip()
    if same_file and (fields["caption"], markup) == (msg.caption or "", msg.reply_markup) and picture is None:
        raise bad_request(NOT_MODIFIED)
    sb.admit_send(chat)
    store = _Files()
    fields["cover"] = await store.store(sb, picture)
    msg.media = await store.store(sb, prepared)
    msg.text = None
    msg.caption, msg.entities, msg.source, msg.parse_mode = (
        fields["caption"],
        fields["entities"],
        fields["source"],
        fields["parse_mode"],
    )
    msg.supports_streaming = fields.get("supports_streaming")
    msg.start_timestamp, msg.cover = fields.get("start_timestamp"), fields["cover"]
    msg.reply_markup = markup
    return edited(sb, chat, msg)


METHODS: dict[str, Handler] = {"sendMediaGroup": send_media_group, "editMessageMedia": edit_message_media}
