"""The broadcast runner against a real SQLite file, the real send budget and a scripted Telegram
(only copyMessage is called), on trio's autojump clock: who receives it, once each; the pace the
sandbox's own limiter accepts; blocked users marked; retries; pause, resume and cancel; a restart
that leaves some copies in flight; a deleted message; the admin's progress and report."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import trio

from core import outbox
from core.config import Settings, load_settings
from core.db import open_db
from core.payloads import Copy, Text, encode_payload
from core.telegram import (
    BadRequest,
    Blocked,
    ChatNotFound,
    FloodWait,
    MessageGone,
    SentMessage,
    TelegramPort,
    Transient,
)
from sandbox.limits import SendLimiter
from sandbox.live_config import LiveConfig
from tests.support.poll import until
from uploader.broadcast import BROADCAST_POLL, BroadcastRunner
from uploader.throttle import SendBudget

ADMIN = 9_999
SOURCE_MESSAGE = 77
LATENCY = 0.05  # seconds a scripted copyMessage takes
DEADLINE = 3_600.0  # logical seconds (autojump): a stuck runner fails the test instead of hanging


@dataclass
class ScriptedTelegram:
    """copyMessage only: each call recorded; per user, a list of errors to raise first."""

    errors: dict[int, list[Exception]] = field(default_factory=dict)
    every: Callable[[int], Exception | None] | None = None  # an error for any user (or None)
    calls: list[tuple[float, int]] = field(default_factory=list)  # (when it returned, user)

    async def copy_message(self, to_chat_id: int, from_chat_id: int, message_id: int) -> SentMessage:
        assert (from_chat_id, message_id) == (ADMIN, SOURCE_MESSAGE)
        await trio.sleep(LATENCY)
        self.calls.append((trio.current_time(), to_chat_id))
        script = self.errors.get(to_chat_id)
        if script:
            raise script.pop(0)
        if self.every is not None and (exc := self.every(to_chat_id)) is not None:
            raise exc
        return SentMessage(to_chat_id, 10_000 + len(self.calls))

    def users(self) -> list[int]:
        return [user for _, user in self.calls]


@dataclass
class Bed:
    settings: Settings
    db: Any
    telegram: ScriptedTelegram
    budget: SendBudget
    broadcast_id: int = 0

    def runner(self) -> BroadcastRunner:
        port = cast(TelegramPort, self.telegram)
        return BroadcastRunner(self.settings, self.db, port, self.budget, lambda: None)

    def row(self) -> dict[str, Any]:
        cursor = self.db.execute("SELECT * FROM broadcasts WHERE id = ?", [self.broadcast_id])
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))

    def deliveries(self) -> dict[int, str]:
        rows = self.db.execute(
            "SELECT user_id, state FROM broadcast_deliveries WHERE broadcast_id = ?", [self.broadcast_id]
        ).fetchall()
        return dict(rows)

    def set_state(self, state: str) -> None:
        now = time.time()
        finished = now if state == "cancelled" else None
        self.db.execute(
            "UPDATE broadcasts SET state = ?, finished_at = coalesce(?, finished_at), updated_at = ? WHERE id = ?",
            [state, finished, now, self.broadcast_id],
        )

    def admin_texts(self) -> list[str]:
        rows = self.db.execute("SELECT payload FROM outbox WHERE chat_id = ? ORDER BY id", [ADMIN]).fetchall()
        return [json.loads(r[0])["text"] for r in rows]


@pytest.fixture
async def bed(tmp_path) -> AsyncIterator[Bed]:
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "ADMIN_IDS": str(ADMIN)}, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    yield Bed(settings, db, ScriptedTelegram(), SendBudget(settings))
    db.close()


def add_users(bed: Bed, ids: range | list[int], *, joined: float, **flags: int) -> None:
    columns = ", ".join(flags)
    extra = "".join(f", {v}" for v in flags.values())
    for user_id in ids:
        bed.db.execute(
            f"INSERT INTO users (id, language, joined_at, last_seen_at{', ' + columns if flags else ''})"
            f" VALUES (?, 'en', ?, ?{extra})",
            [user_id, joined, joined],
        )


def start(bed: Bed, total: int, *, started: float, cursor: int = 0, admin_lang: str | None = "en") -> None:
    """A broadcast as the gateway leaves it after Confirm, with the admin's status message sent."""
    if admin_lang is not None:
        bed.db.execute(
            "INSERT OR IGNORE INTO users (id, language, joined_at, last_seen_at) VALUES (?, ?, ?, ?)",
            [ADMIN, admin_lang, started, started],
        )
    status = outbox.enqueue(bed.db, ADMIN, Text(text="Send to everyone?"))
    outbox.mark_sent(bed.db, status, message_id=5)
    payload = encode_payload(Copy(from_chat_id=ADMIN, message_id=SOURCE_MESSAGE))
    bed.broadcast_id = int(
        bed.db.execute(
            "INSERT INTO broadcasts (admin_id, payload, state, total, created_at, started_at, updated_at, cursor,"
            " status_outbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ADMIN, payload, "running", total, started, started, started, cursor, status],
        ).lastrowid
    )


@pytest.fixture
def running(bed: Bed, nursery: trio.Nursery) -> Callable[[], None]:
    """Call it to start the runner; the test's nursery stops it at the end."""
    return lambda: nursery.start_soon(bed.runner().run, trio.Event())


async def ended(bed: Bed) -> dict[str, Any]:
    async def reported() -> dict[str, Any] | None:
        row = bed.row()
        return row if row["reported_at"] is not None else None

    return await until("the broadcast's report", reported, DEADLINE, describe=lambda: repr(bed.row()))


def replay(calls: list[tuple[float, int]], settings: Settings) -> SendLimiter:
    """Every copy, as it arrived, must pass the sandbox's limiter, the peak staying at the rate."""
    limiter = SendLimiter(
        LiveConfig.from_settings(
            Settings(
                sandbox_bot_rate=settings.tg_global_rate,
                sandbox_chat_rate=settings.tg_chat_rate,
                sandbox_chat_burst=settings.tg_chat_burst,
            )
        )
    )
    for at, user in sorted(calls):
        refusal = limiter.admit(user, True, at)
        assert refusal is None, f"the sandbox would refuse the copy to {user} at {at:.3f}: {refusal}"
    assert limiter.peak <= settings.tg_global_rate
    return limiter


async def test_every_user_of_the_audience_gets_one_copy_at_the_full_rate_and_the_admin_a_report(
    bed, running, autojump_clock
):
    now = time.time()
    add_users(bed, [ADMIN], joined=now - 100)
    add_users(bed, range(1, 301), joined=now - 100)
    add_users(bed, [301], joined=now - 100, banned=1)
    add_users(bed, [302], joined=now - 100, blocked_bot=1)
    add_users(bed, [303], joined=now + 50)  # joined after the broadcast was confirmed
    bed.telegram.errors = {5: [Blocked("bot was blocked by the user")], 6: [Blocked("user is deactivated")]}
    start(bed, 300, started=now)
    t0 = trio.current_time()
    running()

    async def progress_shown() -> str | None:
        texts = [t for t in bed.admin_texts() if "/s" in t]
        return texts[-1] if texts else None

    shown = await until("a progress edit with the pace", progress_shown, DEADLINE)
    assert "Broadcast under way" in shown and "left" in shown
    row = await ended(bed)
    took = bed.telegram.calls[-1][0] - t0

    assert sorted(bed.telegram.users()) == list(range(1, 301))  # each once; not the admin, banned, blocked, new
    assert (row["state"], row["sent"], row["blocked"], row["failed"], row["unknown"]) == ("done", 298, 2, 0, 0)
    assert set(bed.deliveries().values()) == {"sent", "blocked"}
    blocked = bed.db.execute("SELECT id FROM users WHERE blocked_bot = 1 ORDER BY id").fetchall()
    assert blocked == [(5,), (6,), (302,)]
    replay(bed.telegram.calls, bed.settings)
    assert took == pytest.approx(300 / bed.settings.tg_global_rate, rel=0.05)  # the budget, not the runner, paces
    report = bed.admin_texts()[-1]
    assert "Sent: 298" in report and "Blocked: 2" in report and "Failed: 0" in report and "Duration" in report
    assert "Broadcast finished" in bed.admin_texts()[-2]  # the status message shows the end, without buttons


async def test_a_restart_sends_the_pending_rows_and_never_the_ones_that_were_in_flight(bed, running, autojump_clock):
    now = time.time()
    add_users(bed, range(1, 201), joined=now - 100)
    start(bed, 200, started=now - 10, cursor=100, admin_lang=None)
    # What a kill -9 leaves: 1-90 sent, 91-95 on their way, 96-100 claimed and waiting.
    for user_id in range(1, 101):
        state = "sent" if user_id <= 90 else "sending" if user_id <= 95 else "pending"
        bed.db.execute(
            "INSERT INTO broadcast_deliveries (broadcast_id, user_id, state, updated_at) VALUES (?, ?, ?, ?)",
            [bed.broadcast_id, user_id, state, now],
        )
    bed.db.execute("UPDATE broadcasts SET sent = 90 WHERE id = ?", [bed.broadcast_id])
    running()
    row = await ended(bed)
    assert sorted(bed.telegram.users()) == list(range(96, 201))
    assert (row["sent"], row["unknown"], row["failed"], row["blocked"]) == (195, 5, 0, 0)
    assert [u for u, s in bed.deliveries().items() if s == "unknown"] == [91, 92, 93, 94, 95]
    assert "نامعلوم: ۵" in bed.admin_texts()[-1]  # an admin without a row reads the default language


async def test_pause_withdraws_the_waiting_copies_and_resume_finishes_without_a_second_copy(
    bed, running, autojump_clock
):
    now = time.time()
    add_users(bed, range(1, 301), joined=now - 100)
    start(bed, 300, started=now)
    running()
    await until("60 copies", lambda: _at_least(bed, 60), DEADLINE)
    bed.set_state("paused")
    await trio.sleep(BROADCAST_POLL + 2 * LATENCY)  # the runner looks once a second
    during_pause = len(bed.telegram.calls)
    await trio.sleep(30)
    assert len(bed.telegram.calls) == during_pause < 300  # nothing more while paused
    states = bed.deliveries()
    assert "pending" in states.values() and "sending" not in states.values()
    assert bed.row()["reported_at"] is None

    bed.set_state("running")
    row = await ended(bed)
    assert sorted(bed.telegram.users()) == list(range(1, 301))
    assert (row["state"], row["sent"]) == ("done", 300)


async def test_cancel_ends_it_with_a_report_that_says_who_was_not_reached(bed, running, autojump_clock):
    now = time.time()
    add_users(bed, range(1, 301), joined=now - 100)
    start(bed, 300, started=now)
    running()
    await until("60 copies", lambda: _at_least(bed, 60), DEADLINE)
    bed.set_state("cancelled")
    row = await ended(bed)
    calls = len(bed.telegram.calls)
    assert calls == row["sent"] < 300 and len(set(bed.telegram.users())) == calls
    assert row["state"] == "cancelled"
    report = bed.admin_texts()[-1]
    assert "cancelled" in report and f"Sent: {calls}" in report and f"Not reached: {300 - calls}" in report
    await trio.sleep(10)
    assert len(bed.telegram.calls) == calls


async def test_flood_waits_and_transient_errors_are_retried_and_refusals_are_not(bed, running, autojump_clock):
    now = time.time()
    add_users(bed, range(1, 21), joined=now - 100)
    attempts = bed.settings.send_attempts
    bed.telegram.errors = {
        3: [FloodWait(2.0, "global")],
        4: [Transient("502"), Transient("timeout")],
        7: [Transient("502")] * attempts,
        8: [ChatNotFound("chat not found")],
        9: [BadRequest("copyMessage: Bad Request: something odd")],
    }
    start(bed, 20, started=now)
    running()
    row = await ended(bed)
    tries = {user: bed.telegram.users().count(user) for user in range(1, 21)}
    assert tries == {**dict.fromkeys(range(1, 21), 1), 3: 2, 4: 3, 7: attempts}
    assert (row["sent"], row["failed"], row["blocked"], row["unknown"]) == (17, 3, 0, 0)
    flood_at = next(at for at, user in bed.telegram.calls if user == 3)
    granted_after = [at - LATENCY for at, _ in bed.telegram.calls if at - LATENCY > flood_at]
    assert granted_after and min(granted_after) >= flood_at + 2.0 - 1e-6  # the bot waited what Telegram asked


async def test_a_deleted_message_stops_the_broadcast_at_once(bed, running, autojump_clock):
    now = time.time()
    add_users(bed, range(1, 301), joined=now - 100)
    bed.telegram.every = lambda user: MessageGone("copyMessage: Bad Request: message to copy not found")
    start(bed, 300, started=now)
    running()
    row = await ended(bed)
    assert (row["state"], row["end_reason"]) == ("cancelled", "source_gone")
    assert row["failed"] == len(bed.telegram.calls) < 10  # the copies already granted, no more
    assert "deleted" in bed.admin_texts()[-1]


async def _at_least(bed: Bed, count: int) -> bool:
    return len(bed.telegram.calls) >= count
