"""Start the whole bot: `python run.py --workers auto` (add `--sandbox` to try it offline).
`python run.py backup` and `python run.py restore FILE` back up and restore the database.

Flags override settings from the environment and `.env`; children get them as environment
variables, so every process sees the same settings.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import shutil
import sys
from typing import TextIO

import trio

from core.config import Settings, SettingsError, load_settings, to_environ
from core.logs import setup_logging

log = logging.getLogger("supervisor")

# The sandbox plays Telegram; any token of the right shape works there.
SANDBOX_BOT_TOKEN = "1000001:sandbox-token-not-secret"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Run the media downloader bot.")
    parser.add_argument("--workers", metavar="auto|N", help="downloader processes (auto: one per core)")
    parser.add_argument("--sandbox", action="store_true", help="run against the built-in Telegram sandbox")
    parser.add_argument("--data-dir", metavar="PATH", help="folder for the database, spool and run files")
    parser.add_argument("--sandbox-port", type=int, metavar="N", help="port of the sandbox (web chat; 0: any free)")
    parser.add_argument("--monitor-port", type=int, metavar="N", help="port of the monitor's /healthz (0: any free)")
    parser.add_argument("--check", action="store_true", help="check settings and the data folder, then exit")
    return parser.parse_args(argv)


def flag_overrides(args: argparse.Namespace) -> dict[str, str]:
    flags = {
        "WORKERS": args.workers,
        "DATA_DIR": args.data_dir,
        "SANDBOX_PORT": args.sandbox_port,
        "MONITOR_PORT": args.monitor_port,
        "SANDBOX": True if args.sandbox else None,
    }
    return to_environ({k: v for k, v in flags.items() if v is not None})


def sandbox_overrides(settings: Settings) -> dict[str, str]:
    """In sandbox mode the bot talks Bot API to the local sandbox. With SANDBOX_PORT=0 the
    sandbox binds any free port, and the supervisor passes the real one on once it listens."""
    port = settings.sandbox_port
    return {
        "SANDBOX_PORT": str(port),
        "TELEGRAM_BACKEND": "botapi",
        "BOTAPI_URL": f"http://127.0.0.1:{port}",
        "BOT_TOKEN": SANDBOX_BOT_TOKEN,
        "BOTAPI_UPLOAD_LIMIT_MB": str(settings.upload_limit_mb),
    }


def preflight(settings: Settings | None, settings_error: SettingsError | None) -> int:
    """`--check`: one line per check, exit 1 if any failed."""
    from core.db import open_db, schema_version

    results: list[tuple[bool, str]] = []
    if settings_error is not None:
        results.append((False, f"settings: {settings_error}"))
    if settings is None:
        print(f"FAIL {results[0][1]}")
        return 1
    if settings_error is None:
        results.append((True, f"settings: {settings.telegram_backend}, {settings.workers} downloader(s)"))
    data = settings.data_dir.resolve()
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".write-check"
        probe.write_text("ok")
        probe.unlink()
        free = shutil.disk_usage(data)
        pct = 100 * free.free / free.total
        ok = pct >= settings.alert_disk_free_pct
        results.append((ok, f"data folder: {data} writable, {free.free / 1e9:.1f} GB free ({pct:.0f} %)"))
    except OSError as exc:
        results.append((False, f"data folder: {data}: {exc.strerror or exc}"))
    try:
        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        results.append((True, f"database: {settings.db_path} schema v{schema_version(db)}"))
        db.close()
    except Exception as exc:
        results.append((False, f"database: {settings.db_path}: {exc}"))
    for ok, text in results:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in results) else 1


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] in (["backup"], ["restore"]):  # python run.py backup | restore FILE
        from core.backup import command

        return command(words)
    args = parse_args(argv)
    overrides = flag_overrides(args)
    settings: Settings | None = None
    try:
        settings = load_settings(overrides=overrides)
        if settings.sandbox:
            overrides |= sandbox_overrides(settings)
            settings = load_settings(overrides=overrides)
        settings.check_credentials()
    except SettingsError as exc:
        if not args.check:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return preflight(settings, exc)
    if args.check:
        return preflight(settings, None)
    setup_logging("supervisor", settings.log_level, settings.secrets())
    for folder in (settings.data_dir, settings.run_dir, settings.spool_dir):
        folder.mkdir(parents=True, exist_ok=True)
    overrides["DATA_DIR"] = str(settings.data_dir.resolve())
    lock = take_run_lock(settings)
    if lock is None:
        return 1
    with lock:
        return trio.run(_supervise, settings, overrides)


def take_run_lock(settings: Settings) -> TextIO | None:
    """One supervisor per data folder: a second one would take over the first one's sockets."""
    lock = settings.run_lock_path.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "?"
        lock.close()
        print(f"error: another bot (pid {owner}) is already running with DATA_DIR={settings.data_dir}", file=sys.stderr)
        return None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


async def _supervise(settings: Settings, overrides: dict[str, str]) -> int:
    from core.supervisor.alerts import admin_alerter
    from core.supervisor.children import bot_specs, sandbox_spec
    from core.supervisor.supervisor import Supervisor

    sandbox = sandbox_spec(settings.sandbox_port, overrides["DATA_DIR"]) if settings.sandbox else None
    supervisor = Supervisor(
        settings,
        bot_specs(settings.workers),
        overrides,
        sandbox=sandbox,
        announce=lambda line: print(line, flush=True),
        alert=admin_alerter(settings),
    )
    return await supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
