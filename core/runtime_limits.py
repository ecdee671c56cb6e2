"""Limits an admin changes while the bot runs (`/setlimit`): which, how they are checked, kept and
spread to every process.

- Which: `RUNTIME`, the settings every process reads where it uses them (never copied at start),
  so that changing the one `Settings` object of a process changes its behaviour at the next use.
  Any other setting needs a restart (`/setlimit` says so).
- Checked: by the setting's own parser in `core.config` and the rules between settings, so a
  value refused at start is refused here, with the same reason.
- Kept: the `settings` row "limits", a JSON map of NAME -> the value as the admin wrote it; the
  gateway is its only writer.
- Spread: the gateway sends the whole map as a `LimitsChanged` message to the supervisor over the
  control channel; the supervisor relays it to every child and sends its latest copy to each child
  that reports ready (a restarted downloader, uploader or monitor), so no process polls the
  database and a downloader on another host needs none. The gateway reads the row at start.

A value that is removed (`/setlimit NAME default`) goes back to what the process started with
(the `.env`, the environment, the flags).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from core.config import Settings, SettingsError, check_relations, env_names
from ipc.messages import LimitsChanged

if TYPE_CHECKING:  # every process holds its limits; not every one loads the database library
    import sqlite_utils

log = logging.getLogger("limits")

SETTING_KEY = "limits"
RESET_WORDS = ("default", "reset")  # `/setlimit NAME default` removes the override
# env name -> who reads it (for the operator: /limits groups them so)
RUNTIME: dict[str, str] = {
    "USER_REQUESTS_PER_MIN": "users",
    "GLOBAL_REQUESTS_PER_MIN": "users",
    "MAX_LINKS_PER_MESSAGE": "users",
    "MAX_DURATION_MIN": "users",
    "MAX_FILE_MB": "users",
    "JOIN_RECHECK_INTERVAL": "users",
    "USER_CONCURRENT_DOWNLOADS": "queue",
    "QUEUE_MAX": "queue",
    "USER_QUEUE_MAX": "queue",
    "JOB_ATTEMPTS": "queue",
    "SPOOL_MAX_GB": "queue",
    "PROGRESS_EDIT_INTERVAL": "messages",
    "NOTICE_INTERVAL": "messages",
    "MAINTENANCE_NOTICE_INTERVAL": "messages",
    "ALERT_COOLDOWN": "alerts",
    "ALERT_DISK_FREE_PCT": "alerts",
    "ALERT_MEMORY_PCT": "alerts",
    "ALERT_CPU_PCT": "alerts",
    "ALERT_DOWNLOADS_GB": "alerts",
}
_TO_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫", "01234567890123456789.")  # Persian, Arabic digits


class NotRuntime(Exception):
    """The setting exists but is read once at start: it changes with a restart only."""


def field_name(name: str) -> str:
    return str(env_names()[name].name)


def normalise(raw: str) -> str:
    """What an admin typed, in the digits the parsers read (a Persian keyboard types ۳)."""
    return raw.strip().translate(_TO_ASCII)


def parse(settings: Settings, name: str, raw: str) -> Any:
    """The value of `raw` for the runtime setting `name`, checked as at start.

    KeyError: no such setting; NotRuntime: one that needs a restart; SettingsError: a bad value,
    naming the rule it breaks."""
    if name not in env_names():
        raise KeyError(name)
    if name not in RUNTIME:
        raise NotRuntime(name)
    try:
        value = env_names()[name].metadata["parse"](normalise(raw))
    except ValueError as exc:
        raise SettingsError(name, str(exc)) from None
    check_relations(dataclasses.replace(settings, **{field_name(name): value}))
    return value


def shown(value: Any) -> str:
    """A value as /limits prints it (3.0 -> 3)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- the row ------------------------------------------------------------------------------------


def load(db: sqlite_utils.Database) -> dict[str, str]:
    """The overrides kept in the database (unknown or no longer runtime names are left out)."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    values = json.loads(row[0]) if row is not None else {}
    return {str(k): str(v) for k, v in values.items() if k in RUNTIME} if isinstance(values, dict) else {}


def save(db: sqlite_utils.Database, values: dict[str, str], admin_id: int) -> None:
    db.execute(
        "INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key)"
        " DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        [SETTING_KEY, json.dumps(values, sort_keys=True), admin_id, time.time()],
    )


# ---- a process's live values ----------------------------------------------------------------------


class RuntimeLimits:
    """The runtime settings of one process: the values it started with, and the overrides in force.

    `apply` writes the values into the process's one `Settings` object, which every part of the
    process holds and reads at each use: that is how a change reaches them all at once.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_with = {name: getattr(settings, field_name(name)) for name in RUNTIME}
        self.overrides: dict[str, str] = {}

    def default(self, name: str) -> Any:
        return self.started_with[name]

    def apply(self, overrides: dict[str, str]) -> list[str]:
        """Bring every runtime value to `overrides` (else to its start value); the names changed.
        A value this process cannot read (from a newer gateway) is logged; the start value holds."""
        changed = []
        for name in RUNTIME:
            value = self.started_with[name]
            if name in overrides:
                try:
                    value = parse(self.settings, name, overrides[name])
                except (SettingsError, NotRuntime, KeyError) as exc:
                    log.error("limit %s=%r not applied: %s", name, overrides[name], exc)
            attr = field_name(name)
            if getattr(self.settings, attr) != value:
                # Settings is frozen so that no part changes it by mistake; this is the one writer.
                object.__setattr__(self.settings, attr, value)
                changed.append(name)
        self.overrides = {k: v for k, v in overrides.items() if k in RUNTIME}
        if changed:
            log.info(
                "limits now: %s", ", ".join(f"{n}={shown(getattr(self.settings, field_name(n)))}" for n in changed)
            )
        return changed

    def message(self) -> LimitsChanged:
        return LimitsChanged(values=dict(self.overrides), sent_at=time.time())
