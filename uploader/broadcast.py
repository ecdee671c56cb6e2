"""The broadcast runner: copies an admin's message to every user of the audience, at the lowest
priority of the uploader's one send budget.

- It looks at the broadcasts table every BROADCAST_POLL seconds and runs the oldest 'running'
  one (the gateway lets only one be under way); who receives it is `core.broadcasts.AUDIENCE`.
- Claiming: users are claimed in batches, each batch one transaction that writes their 'pending'
  delivery rows and moves `broadcasts.cursor` past them, with at most BROADCAST_WINDOW claimed
  and unfinished at once. Each claimed user is one task waiting in the budget at
  PRIORITY_BROADCAST, so the budget can fill every slot nobody else wants and paces the copies
  itself. Copies do not go through the outbox (10,000 rows would crowd it).
- Never twice: a delivery moves pending -> sending (committed) before its copyMessage goes out.
  A crash leaves 'sending' rows; at the next start they become 'unknown' (the copy may have
  arrived) and are never sent again, and the report counts them apart. 'pending' rows were surely
  not sent: they go out after the restart. The key (broadcast, user) allows one delivery a user.
- Outcomes: sent; Blocked marks the user blocked_bot = 1 (no later broadcast tries them again);
  other refusals fail; a Transient error puts the row back to pending and retries it with
  back-off, SEND_ATTEMPTS tries in all; a FloodWait pauses the budget (`budget.flood`) and the
  row waits for its turn again. A Transient that was a lost answer (a read timeout) may have
  been delivered: copyMessage has no idempotency key, so such a retry is the one way a user
  could see two copies. A copy with no answer within COPY_TIMEOUT counts as unknown.
- Pause and cancel (the admin's buttons; the gateway writes the state) are seen within
  BROADCAST_POLL: copies waiting for the budget are withdrawn (their rows stay pending), copies
  on their way finish. Resume sends the pending rows first. If the admin deleted the message,
  the broadcast stops (cancelled, end_reason 'source_gone').
- The admin's status message is edited at most every PROGRESS_EDIT_INTERVAL (role progress, so
  a tight budget thins it); at the end the status shows the final state and a report follows.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlite_utils
import trio

from core import metrics, outbox
from core.backoff import SEND_RETRY
from core.broadcasts import (
    AUDIENCE,
    END_SOURCE_GONE,
    Broadcast,
    admin_language,
    load,
    load_where,
    report_text,
    status_keyboard,
    status_text,
)
from core.callback_data import codec_for
from core.config import Settings
from core.db import write_tx
from core.logs import uid
from core.payloads import Text
from core.telegram import BadRequest, Blocked, FloodWait, MessageGone, TelegramError, TelegramPort, Transient
from uploader.throttle import SendBudget

log = logging.getLogger("uploader.broadcast")

BROADCAST_POLL = 1.0  # seconds between looks at the broadcasts table (state changes, new ones)
BROADCAST_WINDOW = 200  # users claimed and not yet done: enough waiters for every free slot
CLAIM_BATCH = 50  # claim once this many places are free: fewer, larger transactions
COPY_TIMEOUT = 60.0  # seconds one copyMessage may take; then its outcome is unknown
ERROR_CHARS = 300  # an error kept on a delivery row is cut to this
OUTCOMES = ("sent", "failed", "blocked", "unknown")  # final delivery states, each a counter column


class _Retry(NamedTuple):
    delay: float
    counts: bool  # a transient failure (counted against SEND_ATTEMPTS), not a FloodWait


@dataclass
class _Run:
    """One stretch of sending one broadcast: from its (re)start to a pause, a cancel, the end."""

    b: Broadcast
    lang: str
    started: float  # trio clock
    done_at_start: int
    backlog: deque[int]  # users claimed before (a pause, a restart) and still pending
    sends: trio.CancelScope = field(default_factory=trio.CancelScope)
    in_flight: int = 0
    stop: str = ""  # why sending stopped early: paused, cancelled, draining, source_gone
    freed: trio.Event = field(default_factory=trio.Event)


class BroadcastRunner:
    def __init__(
        self,
        settings: Settings,
        db: sqlite_utils.Database,
        port: TelegramPort,
        budget: SendBudget,
        nudge: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.port = port
        self.budget = budget  # the sender's: one budget for everything the bot sends
        self.nudge = nudge  # wake the outbox sender: status edits and reports are outbox rows
        self.codec = codec_for(settings.data_dir)

    async def run(self, draining: trio.Event) -> None:
        self.recover()
        while not draining.is_set():
            self.report_ended()
            running = load_where(self.db, "state = 'running'")
            if running:
                await self.run_one(running[0], draining)
                continue
            with trio.move_on_after(BROADCAST_POLL):
                await draining.wait()

    # ---- restarts and ends ----------------------------------------------------------------------

    def recover(self) -> int:
        """At start: deliveries a crash left 'sending' may have arrived; they become 'unknown'."""
        now, found = time.time(), 0
        with write_tx(self.db):
            for (broadcast_id,) in self.db.execute(
                "SELECT id FROM broadcasts WHERE started_at IS NOT NULL AND reported_at IS NULL"
            ).fetchall():
                moved = self.db.execute(
                    "UPDATE broadcast_deliveries SET state = 'unknown', updated_at = ?,"
                    " error = 'in flight when the uploader stopped' WHERE broadcast_id = ? AND state = 'sending'",
                    [now, broadcast_id],
                ).rowcount
                if moved:
                    self.db.execute(
                        "UPDATE broadcasts SET unknown = unknown + ?, updated_at = ? WHERE id = ?",
                        [moved, now, broadcast_id],
                    )
                    log.warning(
                        "broadcast %d: on their way when the uploader stopped: %d copy(ies); counted unknown,"
                        " not sent again",
                        broadcast_id,
                        moved,
                    )
                    found += moved
        return found

    def report_ended(self) -> None:
        """Broadcasts that ended (done, cancelled) get their final status and report, once."""
        for ended in load_where(self.db, "state IN ('done', 'cancelled') AND reported_at IS NULL"):
            with write_tx(self.db):
                b = load(self.db, ended.id)
                if b is None or b.reported_at is not None:
                    continue
                lang = admin_language(self.db, b.admin_id, self.settings.default_language)
                if b.status_outbox_id is not None:
                    outbox.change_message(
                        self.db, b.status_outbox_id, b.admin_id, status_text(lang, b), None,
                        priority=outbox.PRIORITY_ANSWER, role=outbox.ROLE_STATUS,
                    )  # fmt: skip
                if b.started_at is not None:
                    report = Text(text=report_text(lang, b))
                    outbox.enqueue(self.db, b.admin_id, report, priority=outbox.PRIORITY_ANSWER)
                self.db.execute("UPDATE broadcasts SET reported_at = ? WHERE id = ?", [time.time(), b.id])
            log.info(
                "broadcast %d %s%s: sent %d, blocked %d, failed %d, unknown %d of %d, in %.0f s",
                b.id, b.state, f" ({b.end_reason})" if b.end_reason else "", b.sent, b.blocked, b.failed,
                b.unknown, b.total, (b.finished_at or 0.0) - (b.started_at or b.created_at),
            )  # fmt: skip
            self.nudge()

    # ---- one stretch of sending ------------------------------------------------------------------

    async def run_one(self, b: Broadcast, draining: trio.Event) -> None:
        pending = self.db.execute(
            "SELECT user_id FROM broadcast_deliveries WHERE broadcast_id = ? AND state = 'pending' ORDER BY user_id",
            [b.id],
        ).fetchall()
        backlog = deque(r[0] for r in pending)
        lang = admin_language(self.db, b.admin_id, self.settings.default_language)
        run = _Run(b, lang, trio.current_time(), b.done, backlog)
        log.info("broadcast %d: sending (%d of about %d done, %d claimed before)", b.id, b.done, b.total, len(backlog))
        async with trio.open_nursery() as outer:
            outer.start_soon(self._show_progress, run)
            outer.start_soon(self._watch, run, draining)
            with run.sends:
                async with trio.open_nursery() as sends:
                    await self._feed(run, sends)
            outer.cancel_scope.cancel()
        self._stopped(run)

    def _stopped(self, run: _Run) -> None:
        now = time.time()
        if run.stop in ("", END_SOURCE_GONE):
            state, reason = ("done", None) if not run.stop else ("cancelled", END_SOURCE_GONE)
            with write_tx(self.db):
                self.db.execute(
                    "UPDATE broadcasts SET state = ?, end_reason = ?, finished_at = ?, updated_at = ?"
                    " WHERE id = ? AND state = 'running'",
                    [state, reason, now, now, run.b.id],
                )
        else:
            log.info("broadcast %d: stopped sending (%s)", run.b.id, run.stop)

    async def _watch(self, run: _Run, draining: trio.Event) -> None:
        """Pause, cancel, drain: withdraw the copies still waiting for the budget."""
        while not run.stop:
            with trio.move_on_after(BROADCAST_POLL):
                await draining.wait()
            if draining.is_set():
                run.stop = "draining"
            else:
                row = self.db.execute("SELECT state FROM broadcasts WHERE id = ?", [run.b.id]).fetchone()
                if row is None or row[0] != "running":
                    run.stop = row[0] if row is not None else "deleted"
        run.sends.cancel()

    async def _feed(self, run: _Run, sends: trio.Nursery) -> None:
        """Keep up to BROADCAST_WINDOW users claimed and waiting; return when none are left."""
        while not run.stop:
            free = BROADCAST_WINDOW - run.in_flight
            if free < min(CLAIM_BATCH, BROADCAST_WINDOW) and run.in_flight:
                run.freed = trio.Event()
                await run.freed.wait()
                continue
            users = self._take(run, free)
            if not users:
                return  # every user is claimed: the nursery waits for the copies under way
            for user_id in users:
                run.in_flight += 1
                sends.start_soon(self._deliver, run, user_id)
            await trio.lowlevel.checkpoint()

    def _take(self, run: _Run, limit: int) -> list[int]:
        users = [run.backlog.popleft() for _ in range(min(limit, len(run.backlog)))]
        if len(users) < limit:
            users += self._claim(run, limit - len(users))
        return users

    def _claim(self, run: _Run, limit: int) -> list[int]:
        """The next users after the cursor, as pending deliveries; the cursor moves past them."""
        now = time.time()
        with write_tx(self.db):
            row = self.db.execute("SELECT state, cursor FROM broadcasts WHERE id = ?", [run.b.id]).fetchone()
            if row is None or row[0] != "running":
                run.stop = run.stop or (row[0] if row is not None else "deleted")
                run.sends.cancel()
                return []
            audience = {"admin": run.b.admin_id, "since": run.b.started_at, "cursor": row[1], "limit": limit}
            ids = [
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM users WHERE id > :cursor AND {AUDIENCE} ORDER BY id LIMIT :limit", audience
                ).fetchall()
            ]
            if ids:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO broadcast_deliveries (broadcast_id, user_id, state, updated_at)"
                    " VALUES (?, ?, 'pending', ?)",
                    [(run.b.id, user_id, now) for user_id in ids],
                )
                self.db.execute(
                    "UPDATE broadcasts SET cursor = ?, updated_at = ? WHERE id = ?", [ids[-1], now, run.b.id]
                )
        return ids

    # ---- one user -------------------------------------------------------------------------------

    async def _deliver(self, run: _Run, user_id: int) -> None:
        failures = 0
        try:
            while True:
                async with self.budget.sending(user_id, outbox.PRIORITY_BROADCAST):
                    # Once the slot is granted the copy is sent and its outcome written, whatever
                    # happens around it (a pause, a drain): an interrupted call is an unknown one.
                    with trio.CancelScope(shield=True):
                        retry = await self._attempt(run, user_id, failures)
                if retry is None:
                    return
                failures += retry.counts
                await trio.sleep(retry.delay)
        finally:
            run.in_flight -= 1
            run.freed.set()

    async def _attempt(self, run: _Run, user_id: int, failures: int) -> _Retry | None:
        """One copyMessage: None when the delivery is over, else when to try again."""
        if not self._move(run, user_id, "pending", "sending"):
            log.warning("broadcast %d: the delivery to user %s was not pending; skipped", run.b.id, uid(user_id))
            return None
        copy = run.b.copy
        try:
            with trio.fail_after(COPY_TIMEOUT):
                sent = await self.port.copy_message(user_id, copy.from_chat_id, copy.message_id)
                metrics.count("sends", method="copy", priority=str(outbox.PRIORITY_BROADCAST))
        except trio.TooSlowError:
            log.warning(
                "broadcast %d: no answer for user %s within %g s; unknown", run.b.id, uid(user_id), COPY_TIMEOUT
            )
            self._end(run, user_id, "unknown", f"no answer within {COPY_TIMEOUT:g} s")
        except FloodWait as exc:
            log.warning("broadcast %d: %s; waiting exactly that", run.b.id, exc)
            self.budget.flood(user_id, exc.seconds, exc.scope)
            self._move(run, user_id, "sending", "pending", str(exc))
            return _Retry(0.0, counts=False)  # the budget holds it back for as long as Telegram asked
        except Blocked as exc:
            log.info("broadcast %d: user %s blocked the bot (%s)", run.b.id, uid(user_id), exc)
            self._end(run, user_id, "blocked", str(exc))
        except Transient as exc:
            if failures + 1 < self.settings.send_attempts:
                delay = SEND_RETRY.delay(failures + 1)
                log.warning("broadcast %d: user %s: %s; retry in %.1f s", run.b.id, uid(user_id), exc, delay)
                self._move(run, user_id, "sending", "pending", str(exc))
                return _Retry(delay, counts=True)
            log.error("broadcast %d: user %s: giving up after %d tries: %s", run.b.id, uid(user_id), failures + 1, exc)
            self._end(run, user_id, "failed", str(exc))
        except BadRequest as exc:
            self._end(run, user_id, "failed", str(exc))
            if isinstance(exc, MessageGone) and not run.stop:
                log.error("broadcast %d: the message to copy is gone (%s); stopping", run.b.id, exc)
                run.stop = END_SOURCE_GONE
                run.sends.cancel()
            else:
                log.error("broadcast %d: copy to user %s refused: %s", run.b.id, uid(user_id), exc)
        except TelegramError as exc:  # the chat is gone, and the like
            log.info("broadcast %d: user %s unreachable: %s", run.b.id, uid(user_id), exc)
            self._end(run, user_id, "failed", str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug must not leave the row 'sending' for the rest of the run
            log.exception("broadcast %d: copy to user %s failed unexpectedly", run.b.id, uid(user_id))
            self._end(run, user_id, "failed", f"{type(exc).__name__}: {exc}")
        else:
            self._end(run, user_id, "sent", message_id=sent.message_id)
        return None

    def _move(self, run: _Run, user_id: int, before: str, after: str, error: str | None = None) -> bool:
        with write_tx(self.db):
            moved = self.db.execute(
                "UPDATE broadcast_deliveries SET state = ?, error = ?, updated_at = ?"
                " WHERE broadcast_id = ? AND user_id = ? AND state = ?",
                [after, error[:ERROR_CHARS] if error else None, time.time(), run.b.id, user_id, before],
            ).rowcount
        return bool(moved)

    def _end(self, run: _Run, user_id: int, outcome: str, error: str = "", message_id: int | None = None) -> None:
        """The delivery is over: its row and the broadcast's counter, in one transaction."""
        assert outcome in OUTCOMES
        now = time.time()
        with write_tx(self.db):
            moved = self.db.execute(
                "UPDATE broadcast_deliveries SET state = ?, error = ?, message_id = ?, updated_at = ?"
                " WHERE broadcast_id = ? AND user_id = ? AND state = 'sending'",
                [outcome, error[:ERROR_CHARS] or None, message_id, now, run.b.id, user_id],
            ).rowcount
            if moved:
                self.db.execute(
                    f"UPDATE broadcasts SET {outcome} = {outcome} + 1, updated_at = ? WHERE id = ?", [now, run.b.id]
                )
            if outcome == "blocked":
                self.db.execute("UPDATE users SET blocked_bot = 1 WHERE id = ?", [user_id])

    # ---- the admin's status message ---------------------------------------------------------------

    async def _show_progress(self, run: _Run) -> None:
        shown = ""
        while True:
            await trio.sleep(self.settings.progress_edit_interval)
            elapsed = trio.current_time() - run.started
            with write_tx(self.db):  # the state is read where the edit is written: a pause wins
                b = load(self.db, run.b.id)
                if b is None or b.state != "running" or b.status_outbox_id is None:
                    continue
                rate = (b.done - run.done_at_start) / elapsed if elapsed > 0 else 0.0
                body = status_text(run.lang, b, rate)
                if body == shown:
                    continue
                outbox.change_message(
                    self.db, b.status_outbox_id, b.admin_id, body, status_keyboard(run.lang, self.codec, b),
                    priority=outbox.PRIORITY_PROGRESS, role=outbox.ROLE_PROGRESS,
                )  # fmt: skip
            shown = body
            self.nudge()
