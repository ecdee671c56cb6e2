"""core.alerts: one outbox row per admin in the admin's language, once per cooldown per kind."""

from __future__ import annotations

import json
import logging

import pytest

from core import outbox
from core.alerts import alert, alerter
from core.config import load_settings
from core.db import open_db, write_tx
from core.supervisor.alerts import admin_alerter
from core.texts import text

NOW = 1_700_000_000.0
COOLDOWN = 300.0


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
    assert alert(db, settings, "circuit_open:Youtube", "alert_circuit_open", now=NOW, **values)
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
        assert alert(db, settings, "disk", "alert_disk_full", now=NOW, path="/srv/spool")
        assert {chat: p["text"] for chat, _, _, p in rows(db)}[30] == text("en", "alert_disk_full", path="/srv/spool")
    finally:
        db.close()


def test_a_kind_is_sent_at_most_once_per_cooldown(db, settings):
    assert alert(db, settings, "disk", "alert_disk_full", now=NOW, path="/a")
    assert not alert(db, settings, "disk", "alert_disk_full", now=NOW + 1, path="/a")
    assert not alert(db, settings, "disk", "alert_disk_full", now=NOW + COOLDOWN - 1, path="/a")
    assert len(rows(db)) == 3
    assert db.execute("SELECT last_at, count FROM alert_log WHERE kind = 'disk'").fetchone() == (NOW, 3)
    assert alert(db, settings, "disk", "alert_disk_full", now=NOW + COOLDOWN, path="/a")
    assert len(rows(db)) == 6
    assert db.execute("SELECT last_at, count FROM alert_log WHERE kind = 'disk'").fetchone() == (NOW + COOLDOWN, 1)


def test_kinds_are_independent(db, settings):
    assert alert(db, settings, "circuit_open:Youtube", "alert_circuit_closed", now=NOW, platform="Youtube")
    assert alert(db, settings, "circuit_open:Instagram", "alert_circuit_closed", now=NOW, platform="Instagram")
    assert not alert(db, settings, "circuit_open:Youtube", "alert_circuit_closed", now=NOW + 5, platform="Youtube")
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
            assert not alert(db, settings, "disk", "alert_disk_full", now=NOW, path="/a")
        assert rows(db) == [] and db.execute("SELECT count(*) FROM alert_log").fetchone() == (0,)
        assert [r.getMessage() for r in caplog.records] == ["no ADMIN_IDS set: alert disk not sent"]
    finally:
        db.close()


def test_inside_the_callers_transaction_it_commits_or_rolls_back_with_it(db, settings):
    with pytest.raises(RuntimeError), write_tx(db):
        assert alert(db, settings, "disk", "alert_disk_full", now=NOW, path="/a")
        raise RuntimeError("the caller's change failed")
    assert rows(db) == [] and db.execute("SELECT count(*) FROM alert_log").fetchone() == (0,)
    with write_tx(db):
        assert alert(db, settings, "disk", "alert_disk_full", now=NOW, path="/a")
    assert len(rows(db)) == 3


def test_the_supervisors_crash_loop_alert_goes_through_it(db, settings):
    crash_loop = admin_alerter(settings)
    crash_loop("downloader", "downloader restarted more than 5 times in 60s")
    crash_loop("downloader", "downloader restarted more than 5 times in 60s")  # within the cooldown
    crash_loop("uploader", "uploader restarted more than 5 times in 60s")  # another kind
    sent = rows(db)
    assert [chat for chat, *_ in sent] == [10, 20, 30, 10, 20, 30]
    assert "downloader" in sent[0][3]["text"] and "uploader" in sent[3][3]["text"]
    kinds = [k for (k,) in db.execute("SELECT kind FROM alert_log ORDER BY kind").fetchall()]
    assert kinds == ["crash_loop:downloader", "crash_loop:uploader"]
