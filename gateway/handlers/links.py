"""A message with links: up to MAX_LINKS_PER_MESSAGE become jobs; anything else gets a hint, at most
once per NOTICE_INTERVAL (a flood of chatter costs one send a minute).

With gates (`gateway.gates`) the chain calls `hint`, `take` and `tell_capped` itself, between its
checks; `links` is the whole flow without them.
"""

from __future__ import annotations

import logging

from core.telegram import IncomingMessage
from core.texts import digits
from gateway import jobs
from gateway.context import Request
from gateway.limits import notice_due
from gateway.links import LinkList, find_links

log = logging.getLogger("gateway.links")


def links(req: Request, msg: IncomingMessage) -> None:
    found = find_links(msg.text, msg.entities, req.settings.max_links_per_message)
    tell_unsupported(req, msg, found)
    if not found.links:
        if not found.refused:
            hint(req)
        return
    take(req, msg.message_id, found.links)
    tell_capped(req, msg, found)


def tell_unsupported(req: Request, msg: IncomingMessage, found: LinkList) -> None:
    """Links of other schemes (ftp:, tg:, ...) and links with a user name or password are
    answered, each kind at most once per NOTICE_INTERVAL."""
    refusals = (
        (found.unsupported, "scheme", "link_refused_scheme"),
        (found.credentials, "credentials", "link_refused_credentials"),
    )
    for refused, kind, key in refusals:
        if refused and notice_due(req.db, req.user.id, kind, req.settings.notice_interval):
            req.reply(req.t(key), reply_to=msg.message_id)


def hint(req: Request) -> None:
    if notice_due(req.db, req.user.id, "hint", req.settings.notice_interval):
        req.reply(req.t("hint"))


def take(req: Request, message_id: int, urls: list[str]) -> None:
    """One job per link, each replying to the user's message `message_id`."""
    for url in urls:
        req.notices += jobs.create(
            req.db,
            req.settings,
            req.codec,
            user_id=req.user.id,
            chat_id=req.chat_id,
            message_id=message_id,
            url=url,
            default_format=req.user.default_format,
        )


def tell_capped(req: Request, msg: IncomingMessage, found: LinkList) -> None:
    if found.found > len(found.links):
        taken, total = digits(req.lang, len(found.links)), digits(req.lang, found.found)
        req.reply(req.t("links_capped", taken=taken, found=total), reply_to=msg.message_id)
