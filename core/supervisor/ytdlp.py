"""The supervisor's part in keeping yt-dlp current: an `UpdateYtdlp` request (an admin's
/ytdlp update through the gateway, or `run.py update-ytdlp`) runs `core.ytdlp_update.upgrade`; a
new version that passed its check is put to work by restarting the downloaders one at a time,
each draining first. The one who asked hears `started` (or `busy`) at once and the result at the
end; the admins get the result in Telegram."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import trio

from core import ytdlp_update
from core.ytdlp_update import SANDBOX_SAMPLE
from ipc.channels import ControlServer
from ipc.messages import UpdateStatus, UpdateYtdlp

if TYPE_CHECKING:
    from core.supervisor.supervisor import Supervisor

log = logging.getLogger("supervisor")

REPLY_TIMEOUT_S = 2.0
DOWNLOADER_KIND = "downloader"


class YtdlpUpdates:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.nursery: trio.Nursery | None = None  # the supervisor's, once it runs
        self.running = False

    def request(self, requester: str, msg: UpdateYtdlp, control: ControlServer) -> None:
        if self.nursery is None:
            return
        if self.running:
            self.nursery.start_soon(_reply, control, requester, UpdateStatus(req_id=msg.req_id, state="busy"))
            return
        self.running = True
        self.nursery.start_soon(self._update, requester, msg, control)

    async def _update(self, requester: str, msg: UpdateYtdlp, control: ControlServer) -> None:
        settings = self.supervisor.settings
        if settings.sandbox and self.supervisor.sandbox_url:  # its real port is known once it listens
            settings = dataclasses.replace(settings, ytdlp_check_url=self.supervisor.sandbox_url + SANDBOX_SAMPLE)
        try:
            await _reply(control, requester, UpdateStatus(req_id=msg.req_id, state="started"))
            log.info("yt-dlp update asked by %s", requester)
            outcome = await ytdlp_update.upgrade(settings)
            restarted: list[str] = []
            if outcome.changed:
                restarted = await self.supervisor.restart_one_by_one(DOWNLOADER_KIND, control)
            state = "done" if outcome.ok else "failed"
            detail = outcome.detail + (f"; restarted {', '.join(restarted)}" if restarted else "")
            log.info("yt-dlp update %s: %s -> %s: %s", state, outcome.old, outcome.new, detail)
            done = UpdateStatus(
                req_id=msg.req_id, state=state, detail=detail, old_version=outcome.old, new_version=outcome.new
            )
            await _reply(control, requester, done)
            self._tell_admins(msg.req_id, outcome, restarted)
        finally:
            self.running = False

    def _tell_admins(self, req_id: int, outcome: ytdlp_update.Outcome, restarted: list[str]) -> None:
        from core.alerts import alert  # here: the supervisor holds the database's modules (5 MB) only
        from core.db import open_db  # for the moments it writes an alert

        settings = self.supervisor.settings
        kind = f"ytdlp_update:{req_id}"
        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        try:
            if outcome.changed:
                names = ", ".join(restarted)
                values = {"old": outcome.old, "new": outcome.new, "names": names}
                alert(db, settings, kind, "ytdlp_updated", values, lasting=False)
            elif outcome.ok:
                alert(db, settings, kind, "ytdlp_current", {"version": outcome.new}, lasting=False)
            else:
                alert(
                    db,
                    settings,
                    kind,
                    "ytdlp_update_failed",
                    {"old": outcome.old, "detail": outcome.detail},
                    lasting=False,
                )
        except Exception:  # the update itself is done; a failed message must not undo it
            log.exception("could not tell the admins about the yt-dlp update")
        finally:
            db.close()


async def _reply(control: ControlServer, requester: str, status: UpdateStatus) -> None:
    with trio.move_on_after(REPLY_TIMEOUT_S):
        if not await control.send(requester, status):
            log.info("%s is gone; not told that the yt-dlp update is %s", requester, status.state)
