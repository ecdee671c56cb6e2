"""A message with links: up to MAX_LINKS_PER_MESSAGE become jobs; anything else gets a hint."""

from __future__ import annotations

import logging

from core.telegram import IncomingMessage
from core.texts import digits
from gateway import jobs
from gateway.context import Request
from gateway.links import find_links

log = logging.getLogger("gateway.links")


def links(req: Request, msg: IncomingMessage) -> None:
    found = find_links(msg.text, msg.entities, req.settings.max_links_per_message)
    if found.unsupported:
        req.reply(req.t("link_refused_scheme"), reply_to=msg.message_id)
    if not found.links:
        if not found.unsupported:
            req.reply(req.t("hint"))
        return
    for url in found.links:
        req.notices += jobs.create(
            req.db,
            req.settings,
            req.codec,
            user_id=req.user.id,
            chat_id=req.chat_id,
            message_id=msg.message_id,
            url=url,
            default_format=req.user.default_format,
        )
    if found.found > len(found.links):
        taken, total = digits(req.lang, len(found.links)), digits(req.lang, found.found)
        req.reply(req.t("links_capped", taken=taken, found=total), reply_to=msg.message_id)
