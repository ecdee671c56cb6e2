"""/ytdlp: the yt-dlp version the downloaders run and its age; `/ytdlp update` asks the supervisor
to upgrade it (core/supervisor/ytdlp.py: check on a sample link, restart the downloaders one at a
time, or roll back). The admin hears at once whether the update started; every admin hears the
result when it is done.

Asking the supervisor is a message on the control channel and its answer, which a handler (inside
the update's transaction) must not await: the router's prepare step does it before the
transaction, within UPDATE_ASK_TIMEOUT, and hands the answer to the handler.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import os
from functools import partial

import trio

from core import ytdlp
from core.telegram import IncomingMessage
from core.texts import date, duration
from gateway.admin.audit import admin_only, arguments, record
from gateway.context import Request
from gateway.router import MessageHandler, Prepare
from ipc.channels import ControlClient
from ipc.messages import UpdateStatus, UpdateYtdlp

log = logging.getLogger("gateway.admin")

UPDATE_ASK_TIMEOUT = 2.0  # seconds for the supervisor's "started"; the update loop waits as long
SECONDS_PER_DAY = 86400
_requests = itertools.count(1)


def prepare_steps(control_endpoint: str, admin_ids: tuple[int, ...]) -> dict[str, Prepare]:
    async def update_step(msg: IncomingMessage) -> MessageHandler | None:
        if msg.sender.id not in admin_ids or arguments(msg) != ["update"]:
            return None  # /ytdlp alone, or not an admin: the handler answers
        state = await ask_supervisor(control_endpoint)
        return partial(update, state=state)

    return {"/ytdlp": update_step}


async def ask_supervisor(control_endpoint: str) -> str:
    """ "started", "busy", or "unreachable" (no supervisor: the gateway runs alone)."""
    req_id = next(_requests)
    with ControlClient(f"gateway-ytdlp-{os.getpid()}", control_endpoint) as control:
        with trio.move_on_after(UPDATE_ASK_TIMEOUT):
            await control.send(UpdateYtdlp(req_id=req_id))
            while True:
                answer = await control.recv()
                if isinstance(answer, UpdateStatus) and answer.req_id == req_id:
                    return answer.state
    log.warning("/ytdlp update: the supervisor did not answer within %.0fs", UPDATE_ASK_TIMEOUT)
    return "unreachable"


@admin_only
def show(req: Request, msg: IncomingMessage) -> None:
    if arguments(msg) == ["update"]:  # no prepare step ran (tests of the handlers alone)
        update(req, msg, state="unreachable")
        return
    version = ytdlp.installed_version() or "?"
    released = ytdlp.release_date(version)
    if released is None:
        req.reply(req.t("ytdlp_version_undated", version=version))
        return
    age = (datetime.date.today() - released).days
    shown = req.t(
        "ytdlp_version", version=version, date=date(req.lang, released), age=duration(req.lang, age * SECONDS_PER_DAY)
    )
    if age > req.settings.ytdlp_max_age_days:
        shown += "\n" + req.t("ytdlp_old", days=req.settings.ytdlp_max_age_days)
    req.reply(shown, html=False)


def update(req: Request, msg: IncomingMessage, state: str = "unreachable") -> None:
    if not req.user.is_admin:
        show(req, msg)  # refuses, as every admin command does
        return
    record(req.db, req.user.id, "ytdlp_update", msg.text)
    keys = {"started": "ytdlp_update_started", "busy": "ytdlp_update_busy"}
    req.reply(req.t(keys.get(state, "ytdlp_update_unreachable")))


COMMANDS = {"/ytdlp": show}
