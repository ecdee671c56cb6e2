"""/start and /help: the welcome."""

from __future__ import annotations

import html
import logging

from core.telegram import IncomingMessage
from gateway.context import Request

log = logging.getLogger("gateway.start")


def start(req: Request, msg: IncomingMessage) -> None:
    req.reply(req.t("welcome", name=html.escape(msg.sender.first_name or "")))
    log.info("welcome for user %d queued (%s)", req.user.id, req.lang)


COMMANDS = {"/start": start, "/help": start}
