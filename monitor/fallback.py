"""Alerts while the uploader is down: the monitor sends the alert rows itself.

Alerts are outbox rows that the uploader sends; an uploader that crash-loops (or hangs) would
silence every alert, its own crash loop first. So while the uploader is not running, or stalled,
for FALLBACK_GRACE seconds, the monitor claims the due alert rows and sends them through its own
connection to Telegram (the port, opened only then), at most one message every FALLBACK_INTERVAL:
a budget far inside Telegram's limits that the idle uploader is not using. Rows a dead uploader
left "sending" are taken too (nobody else will send them); a merely stalled uploader keeps its
own. When the uploader runs again the monitor closes its connection and leaves the rows to it.
A row may be sent twice only if the uploader restarts within one send of the monitor's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import trio

from core import outbox
from core.config import Settings
from core.db import Database, write_tx
from core.logs import uid
from core.payloads import Text, decode_payload
from core.telegram import Blocked, ChatNotFound, FloodWait, TelegramError, TelegramPort, open_port

log = logging.getLogger("monitor.fallback")

FALLBACK_GRACE = 5.0  # seconds the uploader must have been down: a quick restart is not "down"
FALLBACK_INTERVAL = 1.0  # seconds between the monitor's own sends (Telegram's per-chat pace)
FALLBACK_CONNECT_TIMEOUT = 30.0  # seconds to reach Telegram ...
FALLBACK_CONNECT_PAUSE = 60.0  # ... and after a failure, seconds before trying again
FALLBACK_SEND_TIMEOUT = 15.0
RETRY_DELAY = 10.0  # seconds before a row that failed to go is tried again
DEAD_STATES = ("backoff", "cooling", "given-up", "stopped")  # no uploader process at all
STUCK_STATES = ("stalled",)

PortOpener = Callable[[Settings], AbstractAsyncContextManager[TelegramPort]]


def _open(settings: Settings) -> AbstractAsyncContextManager[TelegramPort]:
    return open_port(settings, role="monitor")


@dataclass
class Down:
    """How the uploader is: since when it is down, and whether it is dead or only stuck."""

    since: float | None = None
    dead: bool = False


class FallbackSender:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        uploader_state: Callable[[], str | None],
        *,
        opener: PortOpener = _open,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.db = db
        self.settings = settings
        self.uploader_state = uploader_state
        self.opener = opener
        self.clock = clock
        self.down = Down()
        self.sent = 0  # messages the monitor sent itself (tests, the summary line)
        self._wake = trio.Event()
        self._connect_after = 0.0  # clock time; after a failed connection the monitor waits

    def poke(self) -> None:
        """Alert rows were queued: look now rather than at the next tick."""
        self._wake.set()

    def _look(self) -> bool:
        """Is it the monitor's turn to send? Updates how long the uploader has been down."""
        state = self.uploader_state()
        if state is not None and state not in DEAD_STATES + STUCK_STATES:
            self.down = Down()
            return False
        if self.down.since is None:
            self.down.since = self.clock()
        self.down.dead = state is None or state in DEAD_STATES
        return self.clock() - self.down.since >= FALLBACK_GRACE

    async def run(self) -> None:
        """Forever: while it is the monitor's turn and alert rows wait, send them."""
        while True:
            if self._look() and self._due() and self.clock() >= self._connect_after:
                await self._send_while_down()
            with trio.move_on_after(self.settings.heartbeat_interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _send_while_down(self) -> None:
        log.warning(
            "the uploader is %s: the monitor sends the admins' alerts itself", "down" if self.down.dead else "stuck"
        )
        try:
            with trio.fail_after(FALLBACK_CONNECT_TIMEOUT):
                connection = self.opener(self.settings)
                port = await connection.__aenter__()
        except (TelegramError, trio.TooSlowError, OSError) as exc:
            log.error(
                "the monitor could not reach Telegram to send alerts (again in %.0f s): %s", FALLBACK_CONNECT_PAUSE, exc
            )
            self._connect_after = self.clock() + FALLBACK_CONNECT_PAUSE
            return
        try:
            while self._look():
                row = self._claim()
                if row is None:
                    return
                await self._send(port, *row)
                await trio.sleep(FALLBACK_INTERVAL)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(FALLBACK_SEND_TIMEOUT):
                await connection.__aexit__(None, None, None)

    def _states(self) -> tuple[str, ...]:
        return ("pending", "sending") if self.down.dead else ("pending",)

    def _due(self) -> bool:
        return bool(self.db.execute(self._rows_sql(), [time.time()]).fetchone())

    def _rows_sql(self) -> str:
        states = ", ".join(f"'{s}'" for s in self._states())
        return (
            f"SELECT id, chat_id, kind, payload FROM outbox WHERE role = '{outbox.ROLE_ALERT}' AND kind = 'text'"
            f" AND state IN ({states}) AND not_before <= ? ORDER BY priority, id LIMIT 1"
        )

    def _claim(self) -> tuple[int, int, Text] | None:
        with write_tx(self.db):
            row = self.db.execute(self._rows_sql(), [time.time()]).fetchone()  # the outbox's clock
            if row is None:
                return None
            self.db.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?", [row[0]])
        payload = decode_payload(row[2], row[3])
        assert isinstance(payload, Text)
        return row[0], row[1], payload

    async def _send(self, port: TelegramPort, item_id: int, chat_id: int, payload: Text) -> None:
        try:
            with trio.fail_after(FALLBACK_SEND_TIMEOUT):
                sent = await port.send_text(chat_id, payload.text, html=payload.html)
        except FloodWait as exc:
            log.warning("alert %d: %s", item_id, exc)
            outbox.retry_later(self.db, item_id, exc.seconds, str(exc))
        except (Blocked, ChatNotFound) as exc:
            log.info("alert %d: admin %s unreachable (%s)", item_id, uid(chat_id), type(exc).__name__)
            outbox.mark_failed(self.db, item_id, type(exc).__name__.lower())
        except (TelegramError, trio.TooSlowError, OSError) as exc:
            log.warning("alert %d to admin %s: %s; trying again in %.0f s", item_id, uid(chat_id), exc, RETRY_DELAY)
            outbox.retry_later(self.db, item_id, RETRY_DELAY, str(exc))
        else:
            outbox.mark_sent(self.db, item_id, sent.message_id)
            self.sent += 1
            log.info("alert %d sent to admin %s by the monitor (the uploader is down)", item_id, uid(chat_id))
