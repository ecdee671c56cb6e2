"""/settings: the default format (ask each time, best, a height, audio), m4a or mp3, the language,
the answer for image posts that mix photos and videos (ask, everything, photos, videos), and
whether subtitles always come with a video."""

from __future__ import annotations

import logging

from core import albums, formats
from core.callback_data import Callback
from core.logs import uid
from core.payloads import Button, Edit, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import LANGUAGES, text
from gateway.context import Request

log = logging.getLogger("gateway.settings")

ACTION_SETTING = "s"
CHECK = "✓ "
SUBTITLES = ("0", "1")  # users.subtitles: when asked / always
FIELDS = {
    "f": formats.DEFAULT_CHOICES,
    "a": formats.AUDIO_FORMATS,
    "l": tuple(LANGUAGES),
    "g": albums.DEFAULT_CHOICES,
    "u": SUBTITLES,
}
COLUMNS = {"f": "default_format", "a": "audio_format", "l": "language", "g": "album_format", "u": "subtitles"}
FORMAT_KEYS = {"ask": "format_ask", "best": "format_best", "audio": "format_audio"}


def format_name(lang: str, value: str) -> str:
    if value in FORMAT_KEYS:
        return text(lang, FORMAT_KEYS[value])
    return text(lang, "format_height", height=formats.height_of(value))


def album_name(lang: str, value: str) -> str:
    return text(lang, albums.NAME_KEYS[value])


def settings_message(
    req: Request, fmt: str, audio: str, lang: str, album: str = albums.ASK, subtitles: str = "0"
) -> tuple[str, Keyboard]:
    body = text(lang, "settings", format=format_name(lang, fmt), audio=audio, language=text(lang, "language_name"))
    always = subtitles == "1"
    media = text(
        lang,
        "settings_media",
        album=album_name(lang, album),
        subtitles=text(lang, "subtitles_always" if always else "subtitles_asked"),
    )
    body = f"{body}\n{media}"

    def button(field: str, value: str, label: str, current: str) -> Button:
        index = FIELDS[field].index(value)
        return Button(
            text=(CHECK if value == current else "") + label, data=req.codec.encode(ACTION_SETTING, field, index)
        )

    choices = formats.DEFAULT_CHOICES
    rows = [
        [button("f", v, format_name(lang, v), fmt) for v in choices[:2]],
        [button("f", v, format_name(lang, v), fmt) for v in choices[2:6]],
        [button("f", v, format_name(lang, v), fmt) for v in choices[6:]],
        [button("a", v, v, audio) for v in formats.AUDIO_FORMATS],
        [button("g", v, "🖼 " + album_name(lang, v), album) for v in albums.DEFAULT_CHOICES],
        [
            button(
                "u",
                "0" if always else "1",
                text(lang, "button_subtitles_always" if always else "button_subtitles_asked"),
                "",
            )
        ],
        [button("l", v, text(v, "language_name"), lang) for v in LANGUAGES],
    ]
    return body, rows


def _saved(req: Request) -> tuple[str, str, str, str, str]:
    row = req.db.execute(
        "SELECT default_format, audio_format, language, album_format, subtitles FROM users WHERE id = ?", [req.user.id]
    ).fetchone()
    if row is None:
        return req.user.default_format, req.user.audio_format, req.lang, albums.ASK, "0"
    return row[0], row[1] or req.settings.audio_format, row[2] or req.lang, row[3], str(row[4])


def show(req: Request, msg: IncomingMessage) -> None:
    fmt, audio, _, album, subtitles = _saved(req)
    body, keyboard = settings_message(req, fmt, audio, req.lang, album, subtitles)
    req.reply(body, keyboard)


def change(req: Request, query: CallbackQuery, callback: Callback) -> None:
    field = callback.str_arg(0) or ""
    index = callback.int_arg(1)
    options = FIELDS.get(field, ())
    if index is None or not 0 <= index < len(options):
        req.answer(query.id, req.t("button_expired"))
        return
    value = options[index]
    req.db.execute(f"UPDATE users SET {COLUMNS[field]} = ? WHERE id = ?", [value, req.user.id])
    log.info("user %s set %s to %s", uid(req.user.id), COLUMNS[field], value)
    fmt, audio, lang, album, subtitles = _saved(req)
    body, keyboard = settings_message(req, fmt, audio, lang, album, subtitles)
    req.send(Edit(text=body, keyboard=keyboard, message_id=query.message_id))
    req.answer(query.id, text(lang, "settings_saved"))


COMMANDS = {"/settings": show}
CALLBACKS = {ACTION_SETTING: change}
