"""/start and /help: the welcome."""

from __future__ import annotations

import html
import logging

from core.logs import uid
from core.telegram import IncomingMessage
from gateway.context import Request

log = logging.getLogger("gateway.start")


def start(req: Request, msg: IncomingMessage) -> None:
    req.reply(req.t("welcome", name=html.escape(msg.sender.first_name or "")))
    log.info("welcome for user %s queued (%s)", uid(req.user.id), req.lang)


COMMANDS = {"/start": start, "/help": start}
