"""Each threshold of the monitor, with injected psutil readings (and scripted process states and
database figures): the alert in the admin's language, its cooldown, and its "resolved" message.

The rules, the alert book and core.alerts run for real against a real SQLite file; only psutil's
answers and the clock are scripted.
"""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import dataclass

import psutil
import pytest

from core.config import load_settings
from core.db import open_connection
from core.texts import text
from ipc.messages import ProcessHealth
from monitor import system
from monitor.alerts import AlertBook
from monitor.queries import FailureRate, Figures
from monitor.rules import Rules
from monitor.system import Sampler

ADMINS = (10, 20)  # 10 reads English, 20 Persian
NOW = 1_800_000_000.0
COOLDOWN = 300.0
GB = 1_000_000_000
Disk = namedtuple("Disk", "total used free percent")
Memory = namedtuple("Memory", "percent")


@dataclass
class Machine:
    """What psutil answers, as a test sets it."""

    free_pct: float = 50.0
    memory_pct: float = 40.0
    cpu_pct: float = 10.0
    spool_bytes: int = 0


@pytest.fixture
def settings(tmp_path):
    environ = {
        "DATA_DIR": str(tmp_path),
        "ADMIN_IDS": ",".join(map(str, ADMINS)),
        "ALERT_COOLDOWN": str(COOLDOWN),
    }
    return load_settings(environ=environ, env_file=None)


@pytest.fixture
def db(settings):
    db = open_connection(settings.db_path, busy_timeout=5)  # what the monitor opens
    for admin, lang in zip(ADMINS, ("en", "fa"), strict=True):
        db.execute("INSERT INTO users (id, language, joined_at, last_seen_at) VALUES (?, ?, 1, 1)", [admin, lang])
    yield db
    db.close()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def machine(monkeypatch, settings):
    state = Machine()
    total = 1000 * GB
    monkeypatch.setattr(
        psutil,
        "disk_usage",
        lambda path: Disk(total, total * (1 - state.free_pct / 100), total * state.free_pct / 100, 0),
    )
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory(state.memory_pct))
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None: state.cpu_pct)
    monkeypatch.setattr(system.spool, "usage_bytes", lambda path: state.spool_bytes)
    settings.spool_dir.mkdir()
    return state


class World:
    def __init__(self, settings, db) -> None:
        self.db = db
        self.clock = Clock()
        self.rules = Rules(settings)
        self.book = AlertBook(db, settings, clock=self.clock)
        self.sampler = Sampler(settings)
        self.seen = 0

    def check_machine(self) -> None:
        self.book.apply(self.rules.machine(self.sampler.machine()))

    def new_messages(self) -> dict[int, str]:
        """The admins' messages queued since the last look, by admin."""
        rows = self.db.execute("SELECT chat_id, payload FROM outbox WHERE id > ? ORDER BY id", [self.seen]).fetchall()
        self.seen = self.db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        out: dict[int, str] = {}
        for chat, payload in rows:
            assert chat not in out, f"two messages for admin {chat} at once: {out[chat]!r}"
            out[chat] = json.loads(payload)["text"]
        return out

    def expect(self, key: str | None, **values: object) -> None:
        """The admins were just told `key` (None: nothing), each in their language."""
        got = self.new_messages()
        if key is None:
            assert got == {}, got
            return
        assert got == {10: text("en", key, **values), 20: text("fa", key, **values)}


@pytest.fixture
def world(settings, db):
    return World(settings, db)


# (name, the bad reading, the alert's key and values, the good reading, the resolved key and values)
MACHINE_CASES = [
    ("disk", {"free_pct": 9.5}, "alert_disk_low", {"free_pct": 9.5, "free_gb": 95.0}, {"free_pct": 10.0},
     "alert_disk_ok", {"free_pct": 10.0}),
    ("memory", {"memory_pct": 85.5}, "alert_memory_high", {"pct": 86, "limit": 85}, {"memory_pct": 85.0},
     "alert_memory_ok", {"pct": 85}),
    ("spool", {"spool_bytes": 50 * GB + 1}, "alert_spool_large", {"size": 50.0, "limit": 50}, {"spool_bytes": 49 * GB},
     "alert_spool_ok", {"size": 49.0}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "bad", "key", "values", "good", "ok_key", "ok_values"), MACHINE_CASES)
def test_a_machine_threshold_alerts_once_per_cooldown_and_says_when_it_clears(
    settings, world, machine, kind, bad, key, values, good, ok_key, ok_values
):
    if kind == "disk":
        values = {**values, "path": str(settings.data_dir)}
    world.check_machine()
    world.expect(None)  # all well
    vars(machine).update(bad)
    world.check_machine()
    world.expect(key, **values)
    world.clock.now += 60
    world.check_machine()
    world.expect(None)  # still the same trouble: told once
    vars(machine).update(good)
    world.clock.now += 60
    world.check_machine()
    world.expect(ok_key, **ok_values)
    world.check_machine()
    world.expect(None)
    # It comes back within the cooldown of the alert: held back, then told when the cooldown ends.
    vars(machine).update(bad)
    world.clock.now += 60
    world.check_machine()
    world.expect(None)
    world.clock.now = NOW + COOLDOWN - 1
    world.book.send_held()
    world.expect(None)
    world.clock.now = NOW + COOLDOWN
    world.book.send_held()
    world.expect(key, **values)


def test_cpu_alerts_only_when_it_stays_over_the_line_for_two_readings(world, machine):
    for pct, told in ((95, None), (50, None), (95, None), (95, "alert_cpu_high"), (99, None), (90, "alert_cpu_ok")):
        machine.cpu_pct = pct
        world.check_machine()
        values = {"pct": pct, "limit": 90} if told == "alert_cpu_high" else {"pct": pct}
        world.expect(told, **values)


def process(name: str, state: str, age: float | None = 0.5, last_exit: str = "") -> ProcessHealth:
    return ProcessHealth(name, 100, state, 0, 0.0, age, 0, last_exit=last_exit)


def test_a_stalled_process_is_told_and_then_its_recovery(settings, world):
    ready = [process("gateway", "ready"), process("downloader-1", "ready")]
    stalled = [process("gateway", "ready"), process("downloader-1", "stalled", age=12.3)]
    world.book.apply(world.rules.processes(ready))
    world.expect(None)
    world.book.apply(world.rules.processes(stalled))
    world.expect("alert_process_stalled", name="downloader-1", seconds=12, kill_after=round(settings.hung_kill_after))
    world.book.apply(world.rules.processes(stalled))
    world.expect(None)
    world.book.apply(world.rules.processes(ready))
    world.expect("alert_process_stalled_ok", name="downloader-1")


def test_a_crash_loop_is_told_when_the_supervisor_pauses_the_kind_and_resolved_when_it_runs(world):
    cooling = [process("uploader", "cooling", age=None, last_exit="exit code 1"), process("gateway", "ready")]
    world.book.apply(world.rules.processes([process("uploader", "backoff", age=None)]))
    world.expect(None)  # a restart is no crash loop yet
    world.book.apply(world.rules.processes(cooling))
    world.expect("alert_crash_loop", kind="uploader", reason="exit code 1", minutes=5)
    for state in ("starting", "backoff", "given-up"):
        world.book.apply(world.rules.processes([process("uploader", state, age=None)]))
        world.expect(None)  # still the same crash loop until it runs again
    world.book.apply(world.rules.processes([process("uploader", "ready")]))
    world.expect("alert_crash_loop_ok", kind="uploader")
    two = [process("downloader-1", "ready"), process("downloader-2", "given-up", age=None, last_exit="killed")]
    world.book.apply(world.rules.processes(two))
    world.expect("alert_crash_loop", kind="downloader", reason="killed", minutes=5)


def test_a_failure_rate_over_the_line_with_enough_jobs(world):
    def check(done: int, failed: int) -> None:
        world.book.apply(world.rules.jobs(FailureRate(done, failed), Figures()))

    check(0, 19)
    world.expect(None)  # 100 % failed, but fewer than 20 jobs
    check(14, 6)
    world.expect(None)  # 30 %: not over the line
    check(13, 7)
    world.expect("alert_failure_rate", pct=35, failed=7, total=20, minutes=15)
    check(15, 5)
    world.expect("alert_failure_rate_ok", pct=25, limit=30, minutes=15)


def test_a_send_queue_older_than_five_minutes(world):
    def check(oldest_s: float, due: int) -> None:
        world.book.apply(world.rules.jobs(FailureRate(0, 0), Figures(outbox_due=due, outbox_oldest_s=oldest_s)))

    check(300, 4)
    world.expect(None)
    check(301, 40)
    world.expect("alert_send_queue_old", minutes=5, count=40)
    check(0, 0)
    world.expect("alert_send_queue_ok")


def test_the_figures_come_from_the_database(settings, db):
    from monitor import queries

    now = NOW
    for state, finished in (
        ("done", now - 60),
        ("failed", now - 120),
        ("failed", now - 3600),
        ("queued", None),
        ("downloading", None),
        ("choosing", None),
    ):
        db.execute(
            "INSERT INTO jobs (user_id, chat_id, url, request_key, state, created_at, updated_at, finished_at)"
            " VALUES (10, 10, 'u', 'k', ?, ?, ?, ?)",
            [state, now - 4000, now, finished],
        )  # fmt: skip
    db.execute("INSERT INTO outbox (chat_id, kind, payload, state, created_at) VALUES (10, 'text', '{}', 'pending', ?)",
               [now - 400])  # fmt: skip
    rate = queries.failure_rate(db, 15 * 60, now=now)
    assert (rate.done, rate.failed) == (1, 1)
    figures = queries.figures(db, now=now)
    assert (figures.queued, figures.running, figures.outbox_due) == (1, 1, 1)
    assert figures.outbox_oldest_s == pytest.approx(400)
