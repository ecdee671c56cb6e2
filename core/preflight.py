"""`python run.py --check`: everything the bot needs, checked before it starts, one line each.

Each line is `ok`, `warning` or `error`, the check's name and what was found; the exit status is 1
when any line is an error. Nothing here changes the operator's set-up: the data folder gets a probe
file that is removed again, the database is migrated as a start would migrate it.

The checks, in order: settings; the data folder (writable, free disk); the database; ffmpeg and
ffprobe; yt-dlp's version and age; the JavaScript runtime for YouTube; curl_cffi for browser
impersonation; cookie files (mode, format, earliest expiry); the PO-token provider when one is
configured; then Telegram (`core/preflight_telegram.py`: the token, each admin, each sponsor lock,
against the sandbox in sandbox mode); last, the monitor's port.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from core.config import Settings, SettingsError

Level = Literal["ok", "warning", "error"]
LEVEL_WIDTH = 7  # "warning"
SECONDS_PER_DAY = 86400
GB = 1e9


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.level:<{LEVEL_WIDTH}} {self.check}: {self.detail}"


def ok(check: str, detail: str) -> Finding:
    return Finding("ok", check, detail)


def warning(check: str, detail: str) -> Finding:
    return Finding("warning", check, detail)


def error(check: str, detail: str) -> Finding:
    return Finding("error", check, detail)


def main(settings: Settings | None, settings_error: SettingsError | None, echo: Callable[[str], None] = print) -> int:
    """Run every check, print one line each as it is known; 1 if any was an error, else 0."""
    failed = False
    for finding in findings(settings, settings_error):
        echo(finding.line())
        failed |= finding.level == "error"
    return 1 if failed else 0


def findings(settings: Settings | None, settings_error: SettingsError | None) -> Iterable[Finding]:
    from core import preflight_telegram, preflight_tools

    if settings_error is not None:
        yield error("settings", str(settings_error))
    if settings is None:
        return
    if settings_error is None:
        mode = "sandbox" if settings.sandbox else settings.telegram_backend
        yield ok("settings", f"valid; {mode}, {settings.workers} downloader(s)")
    writable = data_folder(settings)
    yield writable
    if writable.level != "error":
        yield database(settings)
    yield from preflight_tools.findings(settings)
    if settings_error is None:  # without valid credentials there is nothing to ask Telegram
        yield from preflight_telegram.findings(settings)
    yield monitor_port(settings)


def data_folder(settings: Settings) -> Finding:
    data = settings.data_dir.resolve()
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".write-check"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return error("data folder", f"{data} is not writable: {exc.strerror or exc}")
    usage = shutil.disk_usage(data)
    pct = 100 * usage.free / usage.total
    shown = f"{data} writable, {usage.free / GB:.1f} GB free ({pct:.0f} %)"
    if pct < settings.alert_disk_free_pct:
        return warning("data folder", f"{shown}: below ALERT_DISK_FREE_PCT ({settings.alert_disk_free_pct:g} %)")
    return ok("data folder", shown)


def database(settings: Settings) -> Finding:
    from core.db import open_db, schema_version

    try:
        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
    except Exception as exc:  # SchemaTooNew, DatabaseOpenError, sqlite3 errors: each says what is wrong
        return error("database", f"{settings.db_path}: {exc}")
    try:
        return ok("database", f"{settings.db_path}, schema v{schema_version(db)}")
    finally:
        db.close()


def monitor_port(settings: Settings) -> Finding:
    if not settings.monitor_port:
        return ok("monitor port", "MONITOR_PORT=0: a free port is picked at start")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the monitor binds (trio does)
        try:
            probe.bind(("127.0.0.1", settings.monitor_port))
        except OSError as exc:
            return error("monitor port", f"{settings.monitor_port} is taken ({exc.strerror}); is the bot running?")
    return ok("monitor port", f"{settings.monitor_port} is free")


def days_until(when: float, now: float | None = None) -> float:
    return (when - (time.time() if now is None else now)) / SECONDS_PER_DAY
