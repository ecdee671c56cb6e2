"""The monitor sends the admins' alerts itself while the uploader is down: only alert rows, only
after a grace, one a second, the "sending" ones a dead uploader left, none while it runs.

The port is a recording stand-in (Telegram is the edge); the rows, core.alerts and the outbox are
real. The e2e suite (tests/e2e/test_monitor.py) runs the same path against the sandbox."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import pytest
import trio

from core import outbox
from core.alerts import alert
from core.config import load_settings
from core.db import open_connection
from core.payloads import Text
from core.telegram import FloodWait, SentMessage
from monitor.fallback import FALLBACK_GRACE, FALLBACK_INTERVAL, FallbackSender


class Port:
    """What the monitor asked Telegram, and when (trio's clock)."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, int, str]] = []
        self.opened = self.closed = 0
        self.flood_next = False

    async def send_text(self, chat_id: int, text: str, **_: object) -> SentMessage:
        if self.flood_next:
            self.flood_next = False
            raise FloodWait(7, "chat")
        self.sent.append((trio.current_time(), chat_id, text))
        return SentMessage(chat_id=chat_id, message_id=len(self.sent))


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"DATA_DIR": str(tmp_path), "ADMIN_IDS": "10,20"}, env_file=None)


@pytest.fixture
def db(settings):
    db = open_connection(settings.db_path, busy_timeout=5)  # what the monitor opens
    yield db
    db.close()


def states(db) -> dict[int, str]:
    return dict(db.execute("SELECT id, state FROM outbox ORDER BY id").fetchall())


async def test_it_sends_only_alerts_only_while_the_uploader_is_down(settings, db, autojump_clock):
    port = Port()

    @asynccontextmanager
    async def opener(_settings):
        port.opened += 1
        try:
            yield port
        finally:
            port.closed += 1

    uploader = {"state": "ready"}
    answer = outbox.enqueue(db, 30, Text(text="a user's answer"))  # the uploader's, whatever happens
    assert alert(
        db, settings, "crash_loop:uploader", "alert_crash_loop", {"kind": "uploader", "reason": "x", "minutes": 5}
    )
    left = outbox.enqueue(db, 10, Text(text="left sending", html=False), role=outbox.ROLE_ALERT)
    db.execute("UPDATE outbox SET state = 'sending' WHERE id = ?", [left])  # a dead uploader had claimed it
    sender = FallbackSender(db, settings, lambda: uploader["state"], opener=opener)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        await trio.sleep(30)
        assert port.opened == 0  # the uploader runs: not the monitor's business

        uploader["state"] = "stalled"
        stalled_at = trio.current_time()
        await trio.sleep(FALLBACK_GRACE + 10)
        assert [chat for _, chat, _ in port.sent] == [10, 20]  # the pending alerts; not the claimed one
        assert port.sent[0][0] - stalled_at >= FALLBACK_GRACE
        assert port.sent[1][0] - port.sent[0][0] >= FALLBACK_INTERVAL
        assert "uploader" in port.sent[0][2]
        assert states(db) == {answer: "pending", 2: "sent", 3: "sent", left: "sending"}

        uploader["state"] = "cooling"  # now there is no uploader at all: its claimed row is ours too
        await trio.sleep(FALLBACK_GRACE + 10)
        assert [chat for _, chat, _ in port.sent] == [10, 20, 10]
        assert states(db)[left] == "sent" and states(db)[answer] == "pending"

        port.flood_next = True
        assert alert(db, settings, "disk", "alert_disk_full", {"path": "/srv"})
        sender.poke()
        await trio.sleep(3)
        flooded = db.execute("SELECT id, state, not_before FROM outbox WHERE chat_id = 10 ORDER BY id DESC").fetchone()
        assert flooded[1] == "pending" and flooded[2] > time.time() + 5  # told to wait 7 s: it waits ...
        await trio.sleep(10)
        assert [chat for _, chat, _ in port.sent] == [10, 20, 10, 20]
        db.execute("UPDATE outbox SET not_before = 0 WHERE id = ?", [flooded[0]])  # ... (the 7 s are over) ...
        await trio.sleep(10)  # ... and goes
        assert [chat for _, chat, _ in port.sent] == [10, 20, 10, 20, 10]

        uploader["state"] = "ready"
        await trio.sleep(5)
        assert port.closed == port.opened >= 1  # the connection is closed once the uploader is back
        assert alert(db, settings, "memory", "alert_memory_high", {"pct": 90, "limit": 85})
        await trio.sleep(30)
        assert len(port.sent) == 5 and sender.sent == 5  # the uploader sends these
        nursery.cancel_scope.cancel()
