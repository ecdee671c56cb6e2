"""A downloader's alerts and breakers without the bot's database: its own SQLite file
(DATA_DIR/downloader.db), alerts sent to the monitor as AlertRaised over a real telemetry socket
and written there for the admins with the cooldown (the monitor's AlertBook), a breaker's close as
the resolved alert, and every breaker change told to the gateway, whose mirror /circuit reads."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from core import breakers
from core.alerts import TelemetryAlerter
from core.config import Settings, load_settings
from core.db import open_db
from core.failures import ErrorClass, Failure
from downloader.circuit import SharedCircuits, Transition
from downloader.store import DB_NAME, open_store
from ipc.channels import Publisher, Subscriber
from ipc.messages import AlertRaised, BreakerState, Heartbeat
from monitor.alerts import AlertBook

DEADLINE = 20.0
NET = Failure(ErrorClass.NETWORK, "TransportError: connection reset")


def make_settings(folder: Path) -> Settings:
    environ = {"DATA_DIR": str(folder), "ADMIN_IDS": "10,20", "CIRCUIT_FAILURES": "2", "ALERT_COOLDOWN": "300"}
    return load_settings(environ=environ, env_file=None)


async def test_a_breaker_opening_alerts_the_admins_through_the_monitor_and_reaches_the_gateways_mirror(tmp_path):
    settings = make_settings(tmp_path)
    store = open_store(settings)
    told: list[BreakerState] = []
    endpoint = f"ipc://{tmp_path}/telemetry.sock"
    with Subscriber(endpoint) as monitor_side, Publisher(endpoint) as telemetry:
        with trio.fail_after(DEADLINE):  # a PUB drops what it sends before the monitor listens: a sentinel first
            while True:
                telemetry.send_nowait(Heartbeat(name="downloader-1", pid=1, sent_at=0.0))
                with trio.move_on_after(0.05):
                    if isinstance(await monitor_side.recv(), Heartbeat):
                        break
        alerts = TelemetryAlerter("downloader-1", telemetry.send_nowait)
        circuits = SharedCircuits(store, settings, alert=alerts, on_change=told.append)
        received: list[AlertRaised] = []
        for job in (1, 2, 3):  # two in a row open it; the third changes nothing
            outcome = circuits.record("Youtube", job, NET)
        assert outcome is None and [s.state for s in told] == ["closed", "open"]
        with trio.fail_after(DEADLINE):
            while len(received) < 1:
                msg = await monitor_side.recv()
                if isinstance(msg, AlertRaised):
                    received.append(msg)
    assert (tmp_path / DB_NAME).is_file() and not settings.db_path.exists()  # the bot's database: untouched
    [alert] = received
    assert (alert.name, alert.kind, alert.text_key) == ("downloader-1", "breaker:Youtube", "alert_circuit_open")
    assert alert.values["platform"] == "Youtube" and alert.values["failures"] == "2"

    db = open_db(settings.db_path, busy_timeout=5)
    monitor = AlertBook(db, settings)  # the monitor's side: core.alerts' cooldown, one row per admin
    monitor.received(alert)
    monitor.received(alert)  # again: within the cooldown, nothing more
    texts = [json.loads(p)["text"] for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id")]
    assert len(texts) == 2 and all("Youtube" in t for t in texts)

    for state in told:  # the gateway's mirror, for /circuit
        breakers.mirror(db, state)
    older = BreakerState("Youtube", "closed", 0, None, None, told[-1].updated_at - 1)
    assert not breakers.mirror(db, older)  # a late, older report does not undo a newer one
    [view] = breakers.states(db, settings)
    assert (view.platform, view.state, view.failures) == ("Youtube", breakers.State.OPEN, 2)
    assert circuits.snapshot() == [told[-1]]
    db.close()
    store.close()


def test_a_closing_breaker_is_told_too(tmp_path):
    settings = make_settings(tmp_path)
    store = open_store(settings)
    now = [1000.0]
    told: list[BreakerState] = []
    sent: list[AlertRaised] = []

    def publish(msg: AlertRaised) -> bool:
        sent.append(msg)
        return True

    alerts = TelemetryAlerter("downloader-1", publish)
    circuits = SharedCircuits(store, settings, alert=alerts, on_change=told.append, clock=lambda: now[0])
    circuits.record("Youtube", 1, NET)
    assert circuits.record("Youtube", 2, NET) is Transition.OPENED
    now[0] += settings.circuit_recovery
    assert circuits.admit("Youtube", 3).allowed
    assert circuits.record("Youtube", 3, None) is Transition.CLOSED
    assert [s.state for s in told] == ["closed", "open", "half_open", "closed"]
    assert [(a.kind, a.resolved) for a in sent] == [("breaker:Youtube", False), ("breaker:Youtube", True)]
    store.close()
