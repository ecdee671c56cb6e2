"""Inline mode: `@bot <link>` in any chat.

A query with a link is answered with the files the bot already sent of that media (one result per
cached format, sent at once by file_id) and, for what is not cached, an article ("⬇️ Send this
video", "🎵 Send as audio") when a storage chat is set (STORAGE_CHAT_ID). Choosing an article
starts a job whose file is uploaded to the storage chat and whose inline message shows its
progress and then becomes the file (`core.inline`). Without a storage chat only cached files are
offered, and the answer's button says why. The sponsor locks and the limits apply as in the
private chat: a user who must join first gets only a button that opens the private chat; a
chosen article over a limit is told so in its message.

Each answer is personal (the gates differ per user) and not cached by Telegram (cache_time 0).
"""

from __future__ import annotations

import logging

from core import formats
from core.inline import META
from core.logs import uid
from core.media_keys import request_key
from core.payloads import Button, InlineAnswer, InlineEdit, InlineOption
from core.telegram import ChosenInlineResult, InlineQuery
from gateway import jobs
from gateway.context import Request
from gateway.gates import Gates
from gateway.links import find_links

log = logging.getLogger("gateway.inline")

VIDEO, AUDIO = "video", "audio"  # the articles' result ids
ASKED = {VIDEO: "best", AUDIO: "audio"}  # what each article asks for
START_JOIN = "join"  # /start parameters of the answer's button
START_INLINE = "inline"
MAX_CACHED_RESULTS = 10
CACHED_TITLE_CHARS = 60


def _link(req: Request, query: str) -> str | None:
    found = find_links(query, (), 1)
    return found.links[0] if found.links else None


def _cached(req: Request, url: str) -> list[InlineOption]:
    """The files the bot sent of this link's media, one per format (a whole, single file each)."""
    key = request_key(url).key
    alias = req.db.execute("SELECT media_key FROM media_aliases WHERE request_key = ?", [key]).fetchone()
    media_key = alias[0] if alias else key
    rows = req.db.execute(
        "SELECT format_key, kind, file_id, title FROM media_cache WHERE media_key = ? AND part = 1 AND parts = 1"
        " AND kind IN ('video', 'audio', 'document', 'photo') ORDER BY created_at DESC LIMIT ?",
        [media_key, MAX_CACHED_RESULTS],
    ).fetchall()
    options = []
    for number, (format_key, kind, file_id, title) in enumerate(rows):
        label = req.t("inline_cached", format=_format_label(req, format_key))
        options.append(
            InlineOption(
                id=f"c{number}",
                title=label,
                kind=kind,
                file_id=file_id,
                description=(title or "")[:CACHED_TITLE_CHARS],
            )
        )
    return options


def _format_label(req: Request, key: str) -> str:
    height = formats.height_of(key)
    if height:
        return req.t("format_height", height=height)
    if key.startswith("a:"):
        return req.t("button_audio", fmt=key[2:], size="")
    return key


def query(gates: Gates | None, req: Request, update: InlineQuery) -> None:
    url = _link(req, update.query)
    if url is None or req.user.banned:
        req.send(InlineAnswer(query_id=update.id))
        return
    if gates is not None and not req.user.is_admin and not gates.locks.verdict(req.db, req.user.id).passes:
        log.info("inline: user %s must join the sponsor channels first", uid(req.user.id))
        req.send(InlineAnswer(query_id=update.id, button_text=req.t("inline_join"), button_start=START_JOIN))
        return
    results = _cached(req, url)
    if not req.settings.storage_chat_id:
        req.send(
            InlineAnswer(
                query_id=update.id, results=results, button_text=req.t("inline_no_storage"), button_start=START_INLINE
            )
        )
        return
    keyboard = [[Button(text=req.t("inline_source"), url=url)]]  # a keyboard: Telegram then names the message
    for result_id, title_key in ((VIDEO, "inline_send_video"), (AUDIO, "inline_send_audio")):
        results.append(
            InlineOption(id=result_id, title=req.t(title_key), text=req.t("inline_preparing"), keyboard=keyboard)
        )
    req.send(InlineAnswer(query_id=update.id, results=results))


def chosen(gates: Gates | None, req: Request, update: ChosenInlineResult) -> None:
    """An article was sent: the job that turns its message into the file."""
    message = update.inline_message_id
    url = _link(req, update.query)
    if update.result_id not in ASKED or not message or url is None or not req.settings.storage_chat_id:
        return  # a cached file went as it is
    if req.db.execute("SELECT 1 FROM jobs WHERE json_extract(meta, '$.inline') = ?", [message]).fetchone():
        log.info("inline message of user %s has its job already (a repeated update)", uid(req.user.id))
        return
    if req.user.banned:
        return
    refusal = gates.admit_inline(req) if gates is not None else ""
    if refusal:
        req.send(InlineEdit(inline_message_id=message, text=refusal))
        return
    req.notices += jobs.create(
        req.db,
        req.settings,
        req.codec,
        user_id=req.user.id,
        chat_id=req.settings.storage_chat_id,
        message_id=None,
        url=url,
        default_format=ASKED[update.result_id],
        meta={META: message},
    )
    log.info("inline: user %s chose %s; uploading to the storage chat", uid(req.user.id), update.result_id)
