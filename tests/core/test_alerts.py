"""core.alerts: one outbox row per admin in the admin's language, once per cooldown per kind, a
"resolved" message when it clears, and an alert held back by the cooldown told once it ends."""

from __future__ import annotations

import json
import logging

import pytest

from core import outbox
from core.alerts import TelemetryAlerter, active, alert, alerter, resolve, send_held
from core.config import load_settings
from core.db import open_db, write_tx
from core.supervisor.alerts import admin_alerter
from core.texts import text
from ipc.messages import AlertRaised

NOW = 1_700_000_000.0
COOLDOWN = 300.0
PATH = {"path": "/a"}


def make_settings(tmp_path, **env: str):
    environ = {"ADMIN_IDS": "10,20,30", "ALERT_COOLDOWN": str(COOLDOWN), "DATA_DIR": str(tmp_path), **env}
    return load_settings(environ=environ, env_file=None)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def db(settings):
    db = open_db(settings.db_path, busy_timeout=5)
    # Admin 10 chose English, 20 Persian; 30 never wrote to the bot (no row).
    for user_id, lang in ((10, "en"), (20, "fa")):
        db.execute(
            "INSERT INTO users (id, language, joined_at, last_seen_at) VALUES (?, ?, ?, ?)", [user_id, lang, NOW, NOW]
        )
    try:
        yield db
    finally:
        db.close()


def rows(db) -> list[tuple[int, str, int, dict]]:
    found = db.execute("SELECT chat_id, kind, priority, payload FROM outbox ORDER BY id").fetchall()
    return [(chat, kind, priority, json.loads(payload)) for chat, kind, priority, payload in found]


def test_one_row_per_admin_in_each_admins_language(db, settings):
    values = {"platform": "Youtube", "failures": 5, "error": "HTTP Error 429", "seconds": 60}
    assert alert(db, settings, "breaker:Youtube", "alert_circuit_open", values, now=NOW)
    sent = rows(db)
    assert [(chat, kind, priority) for chat, kind, priority, _ in sent] == [
        (10, "text", outbox.PRIORITY_ALERT),
        (20, "text", outbox.PRIORITY_ALERT),
        (30, "text", outbox.PRIORITY_ALERT),
    ]
    by_admin = {chat: payload for chat, _, _, payload in sent}
    assert all(payload["html"] is False for payload in by_admin.values())
    assert by_admin[10]["text"] == text("en", "alert_circuit_open", **values)
    assert by_admin[20]["text"] == by_admin[30]["text"]  # no row: DEFAULT_LANGUAGE, Persian
    assert "۵" in by_admin[20]["text"] and "۶۰" in by_admin[20]["text"]  # Persian digits
    assert "Youtube" in by_admin[20]["text"] and "HTTP Error 429" in by_admin[20]["text"]


def test_admins_without_a_language_get_the_default_language(tmp_path):
    settings = make_settings(tmp_path, DEFAULT_LANGUAGE="en")
    db = open_db(settings.db_path, busy_timeout=5)
    try:
        assert alert(db, settings, "disk", "alert_disk_full", {"path": "/srv/spool"}, now=NOW)
        assert {chat: p["text"] for chat, _, _, p in rows(db)}[30] == text("en", "alert_disk_full", path="/srv/spool")
    finally:
        db.close()


def test_a_kind_is_sent_at_most_once_per_cooldown(db, settings):
    assert alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW)
    assert not alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW + 1)
    assert not alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW + COOLDOWN - 1)
    assert len(rows(db)) == 3
    assert db.execute("SELECT last_at, count FROM alert_log WHERE kind = 'disk'").fetchone() == (NOW, 3)
    assert alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW + COOLDOWN)
    assert len(rows(db)) == 6
    assert db.execute("SELECT last_at, count FROM alert_log WHERE kind = 'disk'").fetchone() == (NOW + COOLDOWN, 1)


def test_kinds_are_independent(db, settings):
    assert alert(db, settings, "breaker:Youtube", "alert_circuit_closed", {"platform": "Youtube"}, now=NOW)
    assert alert(db, settings, "breaker:Instagram", "alert_circuit_closed", {"platform": "Instagram"}, now=NOW)
    assert not alert(db, settings, "breaker:Youtube", "alert_circuit_closed", {"platform": "Youtube"}, now=NOW + 5)
    assert len(rows(db)) == 6


def test_the_cooldown_is_shared_by_every_process(db, settings):
    other = open_db(settings.db_path, busy_timeout=5)  # a second process's own connection
    try:
        assert alerter(db, settings)("disk", "alert_disk_full", path="/a")  # both on the real clock
        assert not alerter(other, settings)("disk", "alert_disk_full", path="/a")
    finally:
        other.close()
    assert len(rows(db)) == 3


def test_no_admins_is_a_warning_and_nothing_written(tmp_path, caplog):
    settings = make_settings(tmp_path, ADMIN_IDS="")
    db = open_db(settings.db_path, busy_timeout=5)
    try:
        with caplog.at_level(logging.WARNING, logger="alerts"):
            assert not alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW)
        assert rows(db) == [] and db.execute("SELECT count(*) FROM alert_log").fetchone() == (0,)
        assert [r.getMessage() for r in caplog.records] == ["no ADMIN_IDS set: alert disk not sent"]
    finally:
        db.close()


def test_inside_the_callers_transaction_it_commits_or_rolls_back_with_it(db, settings):
    with pytest.raises(RuntimeError), write_tx(db):
        assert alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW)
        raise RuntimeError("the caller's change failed")
    assert rows(db) == [] and db.execute("SELECT count(*) FROM alert_log").fetchone() == (0,)
    with write_tx(db):
        assert alert(db, settings, "disk", "alert_disk_full", PATH, now=NOW)
    assert len(rows(db)) == 3


def test_the_supervisor_tells_only_of_the_monitors_own_crash_loop(db, settings):
    crash_loop = admin_alerter(settings)
    crash_loop("downloader", "downloader restarted more than 5 times in 60s")  # the monitor tells this one
    crash_loop("monitor", "monitor restarted more than 5 times in 60s")
    crash_loop("monitor", "monitor restarted more than 5 times in 60s")  # within the cooldown
    sent = rows(db)
    assert [chat for chat, *_ in sent] == [10, 20, 30]
    assert "monitor" in sent[0][3]["text"] and "downloader" not in sent[0][3]["text"]
    assert [k for (k,) in db.execute("SELECT kind FROM alert_log").fetchall()] == ["crash_loop:monitor"]


def test_resolved_follows_an_alert_the_admins_were_told_of(db, settings):
    assert not resolve(db, settings, "disk", "alert_disk_ok", {"free_pct": 40})  # never raised: nothing to say
    assert alert(db, settings, "disk", "alert_disk_low", {"free_pct": 4.5, "free_gb": 2, "path": "/srv"}, now=NOW)
    assert [(a.kind, a.text_key, a.values["free_pct"], a.announced) for a in active(db)] == [
        ("disk", "alert_disk_low", "4.5", True)
    ]
    assert resolve(db, settings, "disk", "alert_disk_ok", {"free_pct": 40})
    assert active(db) == []
    texts = {chat: p["text"] for chat, _, _, p in rows(db)[3:]}
    assert texts[10] == text("en", "alert_disk_ok", free_pct=40) and "۴۰" in texts[20]
    assert not resolve(db, settings, "disk", "alert_disk_ok", {"free_pct": 40})  # once
    assert len(rows(db)) == 6


def test_an_alert_back_within_the_cooldown_is_held_and_told_when_the_cooldown_ends(db, settings):
    assert alert(db, settings, "memory", "alert_memory_high", {"pct": 90, "limit": 85}, now=NOW)
    assert resolve(db, settings, "memory", "alert_memory_ok", {"pct": 60})
    assert not alert(db, settings, "memory", "alert_memory_high", {"pct": 95, "limit": 85}, now=NOW + 10)
    held = active(db)
    assert [(a.kind, a.announced, a.values["pct"]) for a in held] == [("memory", False, "95")]
    assert send_held(db, settings, now=NOW + COOLDOWN - 1) == []  # not yet
    assert len(rows(db)) == 6
    assert send_held(db, settings, now=NOW + COOLDOWN) == ["memory"]
    told = {chat: p["text"] for chat, _, _, p in rows(db)[6:]}
    assert told[10] == text("en", "alert_memory_high", pct=95, limit=85)
    assert send_held(db, settings, now=NOW + COOLDOWN + 1) == [] and len(rows(db)) == 9


def test_a_held_alert_that_clears_before_it_was_told_goes_without_a_word(db, settings):
    assert alert(db, settings, "cpu", "alert_cpu_high", {"pct": 99, "limit": 90}, now=NOW)
    assert resolve(db, settings, "cpu", "alert_cpu_ok", {"pct": 20})
    assert not alert(db, settings, "cpu", "alert_cpu_high", {"pct": 99, "limit": 90}, now=NOW + 10)
    assert not resolve(db, settings, "cpu", "alert_cpu_ok", {"pct": 20})  # they never heard of this one
    assert len(rows(db)) == 6 and active(db) == []
    assert send_held(db, settings, now=NOW + 2 * COOLDOWN) == []


def test_a_notice_is_never_active_and_gets_no_resolved_message(db, settings):
    values = {"id": 3, "name": "@news", "count": 100}
    assert alert(db, settings, "lock_cap:3", "alert_lock_cap", values, now=NOW, lasting=False)
    assert active(db) == [] and not resolve(db, settings, "lock_cap:3", "alert_circuit_closed")
    assert len(rows(db)) == 3


def test_the_log_says_what_the_admins_were_told_in_english(db, settings, caplog):
    with caplog.at_level(logging.INFO, logger="alerts"):
        alert(db, settings, "spool", "alert_spool_large", {"size": 51.2, "limit": 50}, now=NOW)
        resolve(db, settings, "spool", "alert_spool_ok", {"size": 3.0})
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "alert spool: " + text("en", "alert_spool_large", size=51.2, limit=50).replace("\n", " "),
        "alert spool resolved: " + text("en", "alert_spool_ok", size=3.0),
    ]


def test_a_process_without_the_database_publishes_alert_raised():
    published: list[AlertRaised] = []

    def publish(msg: AlertRaised) -> bool:
        published.append(msg)
        return True

    telemetry = TelemetryAlerter("downloader-2", publish)
    assert telemetry("breaker:Youtube", "alert_circuit_open", platform="Youtube", failures=5)
    assert telemetry.resolve("breaker:Youtube", "alert_circuit_closed", platform="Youtube")
    assert [(m.name, m.kind, m.text_key, m.values, m.resolved) for m in published] == [
        ("downloader-2", "breaker:Youtube", "alert_circuit_open", {"platform": "Youtube", "failures": "5"}, False),
        ("downloader-2", "breaker:Youtube", "alert_circuit_closed", {"platform": "Youtube"}, True),
    ]
    dropped = TelemetryAlerter("downloader-2", lambda msg: False)
    assert not dropped("disk", "alert_disk_full", path="/srv")
