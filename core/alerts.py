"""THE way to tell the admins something: one outbox row per admin, in the admin's language, at
most once per ALERT_COOLDOWN for each kind of alert, and a "resolved" message when it clears.

Every alert goes through here: the monitor's thresholds (disk, memory, CPU, spool, stalled and
crash-looping processes, failure rate, an old send queue), circuit breakers, cookie files set
aside, sponsor locks, a full disk. A process that holds the database calls `alert()` and
`resolve()` (or the `Alerter` that `alerter()` binds); one without it publishes `AlertRaised`
and the monitor calls them for it.

An alert kind is active from `alert()` until `resolve()`. The state lives in `alert_log`, so it
holds across processes and restarts: several downloaders seeing the same problem make one
message, and the cooldown counts from the kind's last message. A kind raised again within the
cooldown is held back (`count` counts the repeats); if it was not told yet (it cleared and came
back), `send_held()` tells it once the cooldown is over. `resolve()` sends its message only when
the admins were told of the alert. A `lasting=False` alert is a one-off notice: nothing follows.

The check, the outbox rows and the log row are one transaction; called inside the caller's own
`write_tx` it becomes part of it (a savepoint), so an alert about a state change commits or rolls
back with that change. The uploader sends the rows (the monitor does while the uploader is down).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from core import outbox
from core.config import Settings
from core.db import Database, write_tx
from core.payloads import Text
from core.texts import LANGUAGES, text
from ipc.messages import ActiveAlert, AlertRaised

__all__ = [
    "Alerter",
    "DbAlerter",
    "TelemetryAlerter",
    "active",
    "alert",
    "alerter",
    "crash_loop_kind",
    "crash_loop_values",
    "english",
    "resolve",
    "send_held",
    "typed_values",
]

log = logging.getLogger("alerts")

LOG_LANGUAGE = "en"  # the log says what the admins were told, in English


class Alerter(Protocol):
    """`alert()` and `resolve()` with the place they go already bound (what the parts are given)."""

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool: ...

    def resolve(self, kind: str, text_key: str, /, **values: object) -> bool: ...


def alert(
    db: Database,
    settings: Settings,
    kind: str,
    text_key: str,
    values: Mapping[str, object] | None = None,
    *,
    now: float | None = None,
    lasting: bool = True,
) -> bool:
    """Raise `kind`: queue `text_key` (filled with `values`) for every admin unless the kind was
    sent within the cooldown. True when rows were written. Never awaits: safe inside a `write_tx`."""
    values = dict(values or {})
    if not settings.admin_ids:
        log.warning("no ADMIN_IDS set: alert %s not sent", kind)
        return False
    now = time.time() if now is None else now
    with write_tx(db):
        row = db.execute("SELECT last_at, active, announced FROM alert_log WHERE kind = ?", [kind]).fetchone()
        new = row is None or not row[1]
        if row is not None and now - row[0] < settings.alert_cooldown:
            announced = 0 if new else row[2]
            db.execute(
                "UPDATE alert_log SET count = count + 1, active = ?, announced = ?, text_key = ?, vals = ?,"
                " raised_at = CASE WHEN active THEN raised_at ELSE ? END WHERE kind = ?",
                [int(lasting), announced, text_key, _json(values), now, kind],
            )
            log.info("alert %s held back: last sent %.0f s ago (%s)", kind, now - row[0], english(text_key, values))
            return False
        _send(db, settings, text_key, values)
        db.execute(
            "INSERT INTO alert_log (kind, last_at, count, active, announced, text_key, vals, raised_at)"
            " VALUES (?, ?, 1, ?, 1, ?, ?, ?) ON CONFLICT (kind) DO UPDATE SET last_at = excluded.last_at,"
            " count = 1, active = excluded.active, announced = 1, text_key = excluded.text_key, vals = excluded.vals,"
            " raised_at = CASE WHEN alert_log.active THEN alert_log.raised_at ELSE excluded.raised_at END",
            [kind, now, int(lasting), text_key, _json(values), now],
        )
    log.warning("alert %s: %s", kind, english(text_key, values))
    return True


def resolve(
    db: Database,
    settings: Settings,
    kind: str,
    text_key: str,
    values: Mapping[str, object] | None = None,
) -> bool:
    """`kind` has cleared: queue `text_key` for every admin if they were told of it. True when
    rows were written; a kind that was not active is left alone."""
    values = dict(values or {})
    with write_tx(db):
        row = db.execute("SELECT announced FROM alert_log WHERE kind = ? AND active = 1", [kind]).fetchone()
        if row is None:
            return False
        db.execute("UPDATE alert_log SET active = 0, announced = 0 WHERE kind = ?", [kind])
        if row[0] and settings.admin_ids:
            _send(db, settings, text_key, values)
    log.info("alert %s resolved: %s", kind, english(text_key, values))
    return bool(row[0] and settings.admin_ids)


_HELD = "SELECT kind, text_key, vals FROM alert_log WHERE active = 1 AND announced = 0 AND last_at <= ?"


def send_held(db: Database, settings: Settings, *, now: float | None = None) -> list[str]:
    """Tell the admins of active alerts held back by the cooldown, now that it is over (the
    monitor calls this every tick). Returns their kinds."""
    now = time.time() if now is None else now
    rows = db.execute(_HELD, [now - settings.alert_cooldown]).fetchall()  # the write lock only if any
    sent = []
    for kind, text_key, vals in rows:
        with write_tx(db):  # still held? (another process may have resolved it since the read)
            held = db.execute(_HELD + " AND kind = ?", [now - settings.alert_cooldown, kind]).fetchone()
            if held and alert(db, settings, kind, text_key, json.loads(vals), now=now):
                sent.append(kind)
    return sent


def active(db: Database) -> list[ActiveAlert]:
    """Every alert that has not cleared, oldest first."""
    rows = db.execute(
        "SELECT kind, text_key, vals, raised_at, announced FROM alert_log WHERE active = 1 ORDER BY raised_at, kind"
    ).fetchall()
    return [
        ActiveAlert(
            kind=kind,
            text_key=key,
            values={k: str(v) for k, v in json.loads(vals).items()},
            since=raised or 0.0,
            announced=bool(announced),
        )
        for kind, key, vals, raised, announced in rows
    ]


class DbAlerter:
    """`alert` and `resolve` bound to this process's database and settings."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool:
        return alert(self.db, self.settings, kind, text_key, values)

    def resolve(self, kind: str, text_key: str, /, **values: object) -> bool:
        return resolve(self.db, self.settings, kind, text_key, values)


class TelemetryAlerter:
    """For a process without the database: each alert goes to the monitor as `AlertRaised`, and
    the monitor applies the cooldown and writes the messages. `publish` sends without waiting
    (False: the monitor is behind and the alert was dropped, which is logged)."""

    def __init__(self, name: str, publish: Callable[[AlertRaised], bool]) -> None:
        self.name = name
        self.publish = publish

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool:
        return self._send(kind, text_key, values, resolved=False)

    def resolve(self, kind: str, text_key: str, /, **values: object) -> bool:
        return self._send(kind, text_key, values, resolved=True)

    def _send(self, kind: str, text_key: str, values: Mapping[str, object], *, resolved: bool) -> bool:
        shown = {k: str(v) for k, v in values.items()}
        msg = AlertRaised(
            name=self.name, kind=kind, text_key=text_key, values=shown, resolved=resolved, sent_at=time.time()
        )
        if self.publish(msg):
            return True
        log.error("alert %s not delivered to the monitor (it is behind): %s", kind, english(text_key, values))
        return False


def alerter(db: Database, settings: Settings) -> Alerter:
    """`alert` and `resolve` bound to this process's database and settings."""
    return DbAlerter(db, settings)


def crash_loop_kind(kind: str) -> str:
    """The alert kind of a crash loop of process kind `kind` (one cooldown per process kind)."""
    return f"crash_loop:{kind}"


def crash_loop_values(settings: Settings, kind: str, reason: str) -> dict[str, object]:
    """The values of the "alert_crash_loop" text: the process kind, why, how long it rests."""
    minutes = settings.crash_loop_cooldown / 60
    return {"kind": kind, "reason": reason, "minutes": int(minutes) if minutes.is_integer() else round(minutes, 1)}


def typed_values(values: Mapping[str, str]) -> dict[str, object]:
    """Values that travelled as text (AlertRaised, ActiveAlert), numbers again, so that the
    reader sees them in their own digits."""
    out: dict[str, object] = {}
    for name, value in values.items():
        try:
            out[name] = float(value) if "." in value else int(value)
        except ValueError:
            out[name] = value
    return out


def _send(db: Database, settings: Settings, text_key: str, values: Mapping[str, object]) -> None:
    languages = _languages(db, settings)
    for admin in settings.admin_ids:
        lang = languages.get(admin, settings.default_language)
        # Plain text (no HTML): alerts carry platform names, file names and raw errors.
        body = text(lang, text_key, **values)
        outbox.enqueue(db, admin, Text(text=body, html=False), priority=outbox.PRIORITY_ALERT, role=outbox.ROLE_ALERT)


def _languages(db: Database, settings: Settings) -> dict[int, str]:
    """The language each admin chose (users.language); admins without one get DEFAULT_LANGUAGE."""
    marks = ",".join("?" * len(settings.admin_ids))
    rows = db.execute(
        f"SELECT id, language FROM users WHERE id IN ({marks}) AND language IS NOT NULL", list(settings.admin_ids)
    ).fetchall()
    return {user_id: lang for user_id, lang in rows if lang in LANGUAGES}


def english(text_key: str, values: Mapping[str, object]) -> str:
    """An alert's text as the log (and /healthz) shows it: English, on one line."""
    try:
        return text(LOG_LANGUAGE, text_key, **values).replace("\n", " ")
    except (KeyError, IndexError):  # a text key or placeholder this version does not know
        return f"{text_key} {dict(values)}"


def _json(values: Mapping[str, object]) -> str:
    return json.dumps(dict(values), ensure_ascii=False, default=str)
