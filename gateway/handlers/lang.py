"""/lang: the language the bot speaks to this user. The default is the user's Telegram language
when the bot speaks it (else DEFAULT_LANGUAGE); `/lang` offers every language of core/texts as a
button, `/lang en` switches at once."""

from __future__ import annotations

import logging

from core.callback_data import Callback
from core.logs import uid
from core.payloads import Button, Edit, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import LANGUAGES, text
from gateway.context import Request

log = logging.getLogger("gateway.lang")

ACTION_LANG = "lg"  # callback data: lg|<index in LANGUAGES>
CHECK = "✓ "
CODES = tuple(LANGUAGES)


def keyboard(req: Request, current: str) -> Keyboard:
    row = [
        Button(
            text=(CHECK if code == current else "") + text(code, "language_name"), data=req.codec.encode(ACTION_LANG, i)
        )
        for i, code in enumerate(CODES)
    ]
    return [row]


def choose(req: Request, msg: IncomingMessage) -> None:
    wanted = msg.text.split(maxsplit=1)[1].strip().lower() if len(msg.text.split(maxsplit=1)) > 1 else ""
    if wanted in LANGUAGES:
        _save(req, wanted)
        req.reply(text(wanted, "lang_saved"))
        return
    req.reply(req.t("lang_choose"), keyboard(req, req.lang))


def pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    index = callback.int_arg(0)
    if index is None or not 0 <= index < len(CODES):
        req.answer(query.id, req.t("button_expired"))
        return
    lang = CODES[index]
    _save(req, lang)
    req.send(Edit(text=text(lang, "lang_choose"), keyboard=keyboard(req, lang), message_id=query.message_id))
    req.answer(query.id, text(lang, "lang_saved"))


def _save(req: Request, lang: str) -> None:
    req.db.execute("UPDATE users SET language = ? WHERE id = ?", [lang, req.user.id])
    log.info("user %s speaks %s now", uid(req.user.id), lang)


COMMANDS = {"/lang": choose}
CALLBACKS = {ACTION_LANG: pressed}
