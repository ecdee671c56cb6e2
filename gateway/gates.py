"""Who may use the bot, and how much: the admission chain every update passes, in this order.

1. maintenance (`/maintenance`): everyone but the admins gets the notice, at most once per
   MAINTENANCE_NOTICE_INTERVAL (an admin's own links are taken, so that an admin can test);
2. ban (`/ban`): one notice, then silence (button presses too);
3. sponsor locks (`gateway.locks`): links are held behind a join prompt;
4. per-user rate: USER_REQUESTS_PER_MIN links a minute (GLOBAL_REQUESTS_PER_MIN for everyone,
   when set), the rest refused with one message a minute at most;
5. per-user concurrency: done by `gateway.dispatch` (more links queue, they are not refused), up to
   USER_QUEUE_MAX of one user's jobs waiting;
6. the queue cap: past QUEUE_MAX waiting jobs the user hears the bot is busy, with the wait;
7. the disk budget: no new jobs while the spool is over SPOOL_MAX_GB or the disk is short.

Admins pass every gate. Gates 3-7 concern links only; commands and chatter pass them (chatter
gets the hint at most once a minute). Links held behind a lock pass gates 4-7 when they are
released, together with the user's new ones and oldest first (`accept`), so holding links gets
nobody past a limit. Each refusal is one message in the user's language, at most once per
NOTICE_INTERVAL for the same reason. What must wait for Telegram (membership) or the disk happens
in `before`, ahead of the update's transaction; everything else runs inside it. The chain knows
no command table (`gateway.commands`): the router tells it whether a message is a command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import sqlite_utils
import trio

from core.callback_data import CallbackCodec
from core.config import Settings
from core.db import write_tx
from core.logs import uid
from core.status import wait_text
from core.telegram import (
    CallbackQuery,
    ChatMemberChange,
    ChosenInlineResult,
    IncomingMessage,
    InlineQuery,
    TelegramPort,
    Update,
)
from core.texts import digits
from gateway.admin.bans import NOTICE_BANNED
from gateway.admin.maintenance import Maintenance
from gateway.context import Request
from gateway.handlers import links as link_jobs
from gateway.limits import (
    EVERYONE,
    MARK_GLOBAL_RATE,
    MARK_RATE,
    DiskBudget,
    download_slots,
    notice_due,
    purge_marks,
    rate_room,
    spend,
    waiting,
    waiting_for,
)
from gateway.links import LinkList, find_links
from gateway.locks import ACTION_JOINED, Locks
from gateway.offer import estimate

log = logging.getLogger("gateway.gates")

HOUSEKEEPING_INTERVAL = 5.0  # seconds between ending expired locks and purging expired marks
BUSY_ETA_TTL = 2.0  # seconds the expected wait told to refused users is reused
BAN_NOTICE_TTL = 10 * 365 * 86400.0  # "one notice": not again until an unban forgets it


Batch = tuple[int, list[str]]  # a user's message id and its links


def _nothing() -> dict[str, Any]:
    return {}


class Gates:
    """The chain, with the state it needs: the maintenance switch, the locks, the disk reading.

    `links` is the router's fallback for messages that are no command; `release` lets a user's
    held links through once they pass the locks (the "I've joined" button, `handlers.joined`).
    """

    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        codec: CallbackCodec,
        *,
        maintenance_state: Maintenance | None = None,
        locks: Locks | None = None,
        disk: DiskBudget | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.codec = codec
        self.maintenance = maintenance_state or Maintenance.load(db)
        self.locks = locks or Locks(settings, db)
        self.disk = disk or DiskBudget(settings)
        self._found: tuple[tuple[int, int], LinkList] | None = None  # the links of the message at hand
        self._eta: tuple[float, float | None] | None = None  # (when, the wait told to busy users)
        self._recheck: tuple[str, float] = ("", 0.0)  # (the press at hand, seconds until the next check)

    def attach(self, port: TelegramPort) -> None:
        """Membership can be asked from now on (until then, locks hold nobody up)."""
        self.locks.port = port

    # ---- before the transaction ----------------------------------------------------------------

    async def before(self, update: Update, command: str = "") -> None:
        """Ask Telegram and the disk whatever this update's gates will need to know; `command`:
        the message's command, if it is one (commands pass the link gates)."""
        self.locks.reload()
        if isinstance(update, IncomingMessage) and update.chat.type == "private":
            await self._before_message(update, command)
        elif isinstance(update, CallbackQuery):
            await self._before_press(update)
        elif isinstance(update, InlineQuery | ChosenInlineResult):
            await self._before_inline(update)

    async def _before_inline(self, update: InlineQuery | ChosenInlineResult) -> None:
        """Inline mode passes the locks and the disk as a link in the private chat does."""
        user_id = update.sender.id
        if user_id in self.settings.admin_ids or self._banned(user_id):
            return
        if find_links(update.query, (), 1).links:
            await self.locks.verify(user_id)
            await self.disk.refresh()

    async def _before_message(self, msg: IncomingMessage, command: str) -> None:
        user_id = msg.sender.id
        if user_id in self.settings.admin_ids or command or self.maintenance.on:
            return
        if not self.links_of(msg).links or self._banned(user_id):
            return
        await self.locks.verify(user_id)
        await self.disk.refresh()

    async def _before_press(self, query: CallbackQuery) -> None:
        """The "I've joined" press: check again (at most once per JOIN_RECHECK_INTERVAL), and read
        the disk the released links will need."""
        callback = self.codec.decode(query.data)
        user_id = query.sender.id
        if callback is None or callback.action != ACTION_JOINED or not self.locks.has_waiting(self.db, user_id):
            return
        if self._banned(user_id):
            return
        self._recheck = (query.id, await self.locks.recheck(user_id))
        await self.disk.refresh()

    def recheck_wait(self, query: CallbackQuery) -> float:
        """Seconds until this press's user may check again (0: they were checked for this press)."""
        press, wait = self._recheck
        return wait if press == query.id else 0.0

    def _banned(self, user_id: int) -> bool:
        row = self.db.execute("SELECT banned FROM users WHERE id = ?", [user_id]).fetchone()
        return bool(row and row[0])

    def links_of(self, msg: IncomingMessage) -> LinkList:
        """The message's links, found once for both phases."""
        key = (msg.chat.id, msg.message_id)
        if self._found is None or self._found[0] != key:
            self._found = (key, find_links(msg.text, msg.entities, self.settings.max_links_per_message))
        return self._found[1]

    # ---- gates 1 and 2: every message and press ------------------------------------------------

    def admit(self, req: Request, msg: IncomingMessage) -> bool:
        """Maintenance, then ban; False when the message goes no further (a notice, or silence)."""
        if req.user.is_admin:
            return True
        if self.maintenance.on:
            interval = self.settings.maintenance_notice_interval
            if notice_due(req.db, req.user.id, "maintenance", interval):
                req.reply(self.maintenance.notice(req))
            return False
        if req.user.banned:
            if notice_due(req.db, req.user.id, NOTICE_BANNED, BAN_NOTICE_TTL):
                req.reply(req.t("banned"))
                log.info("banned user %s told once; silent from now on", uid(req.user.id))
            return False
        return True

    def admit_press(self, req: Request, query: CallbackQuery) -> bool:
        """A banned user's presses are not even answered (no send at all)."""
        return req.user.is_admin or not req.user.banned

    # ---- gates 3-7: links ----------------------------------------------------------------------

    def links(self, req: Request, msg: IncomingMessage) -> None:
        found = self.links_of(msg)
        link_jobs.tell_unsupported(req, msg, found)
        if not found.links:
            if not found.refused:
                link_jobs.hint(req)
            return
        if req.user.is_admin:
            link_jobs.take(req, msg.message_id, found.links)
            link_jobs.tell_capped(req, msg, found)
            return
        verdict = self.locks.verdict(req.db, req.user.id)
        if not verdict.passes:
            self.locks.hold(req, msg.message_id, found.links, verdict)
            return
        held = self.locks.take_held(req.db, req.user.id)  # links held earlier go first, now that the user passes
        self.accept(req, [*held, (msg.message_id, found.links)])
        if held:
            log.info("user %s passes the locks: %d held message(s) released", uid(req.user.id), len(held))
        link_jobs.tell_capped(req, msg, found)

    def release(self, req: Request) -> int:
        """The user passes the locks now: their held links, oldest first, through gates 4-7.
        Returns how many became jobs."""
        held = self.locks.take_held(req.db, req.user.id)
        if not held:
            return 0
        taken = self.accept(req, held)
        wanted = sum(len(urls) for _, urls in held)
        log.info("user %s passes the locks: %d of %d held link(s) taken", uid(req.user.id), taken, wanted)
        return taken

    def accept(self, req: Request, batches: list[Batch]) -> int:
        """Jobs for as many of these links as the rate, the queues and the disk let through, oldest
        first; the user hears why the rest were refused (once per NOTICE_INTERVAL), as an answer to
        the first message cut short. Returns how many links became jobs."""
        now = time.time()
        wanted = sum(len(urls) for _, urls in batches)
        allowed, refusal, values = self._allowance(req, wanted, now)
        if allowed:
            spend(req.db, req.user.id, MARK_RATE, allowed, now)
            if self.settings.global_requests_per_min:
                spend(req.db, EVERYONE, MARK_GLOBAL_RATE, allowed, now)
        left, cut = allowed, None
        for message_id, urls in batches:
            taken = urls[:left]
            left -= len(taken)
            if taken:
                link_jobs.take(req, message_id, taken)
            if len(taken) < len(urls) and cut is None:
                cut = message_id
        if refusal:
            told = notice_due(req.db, req.user.id, refusal, self.settings.notice_interval, now)
            if told:
                req.reply(req.t(refusal, **values()), reply_to=cut)
            # Logged when the user is told (once a minute): a flood would fill the log otherwise.
            refused = wanted - allowed
            (log.info if told else log.debug)("user %d: %d link(s) refused (%s)", req.user.id, refused, refusal)
        return allowed

    def admit_inline(self, req: Request) -> str:
        """A link chosen in inline mode: "" when it may become a job now (counted against the
        rates like a link in the private chat), else the words to show in its inline message."""
        if req.user.is_admin:
            return ""
        if self.maintenance.on:
            return self.maintenance.notice(req)
        if not self.locks.verdict(req.db, req.user.id).passes:
            return req.t("inline_join")
        now = time.time()
        allowed, refusal, values = self._allowance(req, 1, now)
        if not allowed:
            log.info("user %s: an inline link refused (%s)", uid(req.user.id), refusal)
            return req.t(refusal, **values())
        spend(req.db, req.user.id, MARK_RATE, 1, now)
        if self.settings.global_requests_per_min:
            spend(req.db, EVERYONE, MARK_GLOBAL_RATE, 1, now)
        return ""

    def _allowance(self, req: Request, wanted: int, now: float) -> tuple[int, str, Callable[[], dict[str, Any]]]:
        """How many of `wanted` links the rate, the queues and the disk let through, in this order;
        the text key ("" when none) of the gate that cut the most, the one the user has to wait for,
        and how to fill it in (asked only when told)."""
        settings = self.settings
        allowed, refusal, values = wanted, "", _nothing
        room = rate_room(req.db, req.user.id, MARK_RATE, settings.user_requests_per_min, now)
        if room.left < allowed:
            allowed, refusal, values = room.left, "rate_limited", partial(self._rate, req, room.resets_in)
        if allowed and settings.global_requests_per_min:
            shared = rate_room(req.db, EVERYONE, MARK_GLOBAL_RATE, settings.global_requests_per_min, now)
            if shared.left < allowed:
                allowed, refusal, values = shared.left, "busy", partial(self._busy, req, shared.resets_in)
        if allowed:
            queued = waiting(req.db)
            if queued + allowed > settings.queue_max:
                allowed, refusal, values = max(0, settings.queue_max - queued), "busy", partial(self._busy, req, 0.0)
            # One user's share of the queue, counted only when the whole queue could exceed it.
            mine = waiting_for(req.db, req.user.id) if allowed and queued + allowed > settings.user_queue_max else 0
            if mine + allowed > settings.user_queue_max:
                allowed = max(0, settings.user_queue_max - mine)
                refusal, values = "user_queue_full", partial(dict, count=settings.user_queue_max)
        if allowed and not self.disk.room:
            allowed, refusal, values = 0, "disk_full", _nothing
        return allowed, refusal, values

    def _rate(self, req: Request, resets_in: float) -> dict[str, Any]:
        limit = digits(req.lang, self.settings.user_requests_per_min)
        return {"limit": limit, "wait": wait_text(req.lang, resets_in)}

    def _busy(self, req: Request, at_least: float) -> dict[str, Any]:
        queued = waiting(req.db)
        now = time.monotonic()
        if self._eta is None or now - self._eta[0] >= BUSY_ETA_TTL:  # a burst of refusals reads history once
            self._eta = (now, estimate(req.db, queued + 1, download_slots(self.settings)))
        wait = max(self._eta[1] or 0.0, at_least)
        shown = wait_text(req.lang, wait) if wait else req.t("busy_wait_unknown")
        return {"waiting": digits(req.lang, queued), "wait": shown}

    # ---- buttons and chat-member updates --------------------------------------------------------

    def member_changed(self, change: ChatMemberChange) -> list[int]:
        with write_tx(self.db):
            self.locks.member_changed(self.db, change)
        return []

    # ---- housekeeping --------------------------------------------------------------------------

    def sweep(self) -> None:
        """End the locks whose time is up; forget expired marks and held links."""
        now = time.time()
        self.locks.reload()
        with write_tx(self.db):
            self.locks.end_expired(self.db)
            purge_marks(self.db, now)
            gone = self.db.execute(
                "DELETE FROM held_links WHERE (released_at IS NULL AND expires_at <= ?1) OR released_at <= ?1 - ?2",
                [now, self.settings.held_link_ttl],
            ).rowcount
        if gone:
            log.info("forgot %d held link message(s) past HELD_LINK_TTL", gone)
        self.locks.reload()

    async def housekeeping(self) -> None:
        while True:
            await trio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                self.sweep()
            except Exception:  # a busy database this once must not stop the gateway; the next pass retries
                log.exception("the gates' housekeeping failed; trying again in %.0f s", HOUSEKEEPING_INTERVAL)
