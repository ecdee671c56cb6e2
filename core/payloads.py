"""What an outbox row asks the uploader to do: one typed struct per kind of send.

The row's `kind` column is the struct's tag (`op` in the JSON) and `payload` is the struct as JSON, so a row is
always one of these and nobody builds a dict on the spot. Edits and deletes name no message:
they change the message of the row they point at (`outbox.target_id`), which may not have been
sent yet when they are written.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "AlbumItem",
    "Button",
    "CallbackAnswer",
    "Copy",
    "Delete",
    "Edit",
    "InlineAnswer",
    "InlineEdit",
    "InlineMedia",
    "InlineOption",
    "Keyboard",
    "Payload",
    "SendMedia",
    "Text",
    "decode_payload",
    "encode_payload",
    "kind_of",
]


class Button(msgspec.Struct, frozen=True, omit_defaults=True):
    """An inline button: `data` (callback data, at most 64 bytes) or `url`."""

    text: str
    data: str | None = None
    url: str | None = None


Keyboard = list[list[Button]]


class _Payload(msgspec.Struct, frozen=True, tag_field="op", omit_defaults=True):
    pass


class Text(_Payload, frozen=True, tag="text"):
    text: str
    keyboard: Keyboard | None = None
    reply_to: int | None = None
    html: bool = True


class Edit(_Payload, frozen=True, tag="edit"):
    """Replace the text (and keyboard: None removes it) of the target row's message, or of
    `message_id` when the message is known (a pressed button's)."""

    text: str
    keyboard: Keyboard | None = None
    html: bool = True
    message_id: int = 0


class Delete(_Payload, frozen=True, tag="delete"):
    """Delete the target row's message, or `message_id`."""

    message_id: int = 0


class AlbumItem(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item of an album: from the spool (`path`) or by `file_id`; `part` is its place in the
    media cache (`core.albums`)."""

    kind: str  # photo, video, document
    part: int
    path: str = ""
    file_id: str = ""
    thumbnail: str = ""
    duration: int = 0
    width: int = 0
    height: int = 0


class SendMedia(_Payload, frozen=True, tag="media"):
    """A file from the spool (`path`) or one Telegram already has (`file_id`); or, with `album`
    (kind "album"), 2-10 of them as one album (`sendMediaGroup`), `path` then its first item's.

    `media_key`, `format_key` and `part`/`parts` say where the file_id goes in the media cache
    once sent (an album's items say their own `part`); `spool_dir` is removed after the job's
    last part is sent. The caption is made at sending from `title`, `source_url` and the part
    (uploader.caption), unless `caption` is given; an album's goes on its first item (a post's
    text is the `title` of its first send only). `start`: a video plays from this second (a
    link's `t=`).
    """

    kind: str  # video, audio, document, photo, album
    path: str = ""
    file_id: str = ""
    caption: str = ""
    thumbnail: str = ""
    duration: int = 0
    width: int = 0
    height: int = 0
    title: str = ""
    performer: str = ""
    reply_to: int | None = None
    media_key: str = ""
    format_key: str = ""
    part: int = 1
    parts: int = 1
    source_url: str = ""
    spool_dir: str = ""
    album: list[AlbumItem] = []
    start: int = 0


class Copy(_Payload, frozen=True, tag="copy"):
    """copyMessage of `message_id` in `from_chat_id` to the row's chat (broadcasts)."""

    from_chat_id: int
    message_id: int
    broadcast_id: int = 0


class CallbackAnswer(_Payload, frozen=True, tag="callback_answer"):
    callback_id: str
    text: str | None = None
    alert: bool = False


class InlineOption(msgspec.Struct, frozen=True, omit_defaults=True):
    """One inline result: a cached file (`file_id`, its `kind`) or an article (`text`) that the
    bot later edits into the file (it needs a keyboard for Telegram to name the message)."""

    id: str
    title: str
    kind: str = "article"  # article, or the cached file's kind: video, audio, document, photo
    file_id: str = ""
    text: str = ""
    description: str = ""
    caption: str = ""
    keyboard: Keyboard | None = None


class InlineAnswer(_Payload, frozen=True, tag="inline_answer"):
    """answerInlineQuery: the results, and a button that opens the private chat with
    `/start <button_start>` (a user who must join first; inline mode without a storage chat)."""

    query_id: str
    results: list[InlineOption] = []
    button_text: str = ""
    button_start: str = ""


class InlineEdit(_Payload, frozen=True, tag="inline_edit"):
    """Replace the text of a message sent through inline mode (an inline job's progress)."""

    inline_message_id: str
    text: str
    keyboard: Keyboard | None = None


class InlineMedia(_Payload, frozen=True, tag="inline_media"):
    """Turn a message sent through inline mode into a file Telegram has (`file_id`); the caption
    is made at sending from `title` and `source_url`, as a file's is."""

    inline_message_id: str
    kind: str
    file_id: str
    title: str = ""
    source_url: str = ""
    lang: str = "fa"


Payload = Text | Edit | Delete | SendMedia | Copy | CallbackAnswer | InlineAnswer | InlineEdit | InlineMedia

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Payload)


def kind_of(payload: Payload) -> str:
    """The row's `kind`: the payload's tag."""
    return str(type(payload).__struct_config__.tag)


def encode_payload(payload: Payload) -> str:
    return _encoder.encode(payload).decode()


def decode_payload(kind: str, raw: str) -> Payload:
    """The payload of a row. Rows written before payloads carried their tag (`op`) have it only in
    the row's `kind` column; their JSON then starts without it."""
    data = raw.encode()
    if not data.startswith(b'{"op":'):
        body = data.strip()[1:]
        data = b'{"op":' + msgspec.json.encode(kind) + (b"," + body if body.strip() != b"}" else b"}")
    return _decoder.decode(data)
