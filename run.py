"""Start the whole bot: `python run.py --workers auto` (add `--sandbox` to try it offline).
`python run.py backup` and `python run.py restore FILE` back up and restore the database.

Flags override settings from the environment and `.env`; children get them as environment
variables, so every process sees the same settings.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import logging
import os
import sys
from typing import TextIO

import trio

from core import preflight
from core.config import Settings, SettingsError, load_settings, to_environ
from core.logs import setup_from_settings
from core.ytdlp_update import SANDBOX_SAMPLE

log = logging.getLogger("supervisor")

# The sandbox plays Telegram; any token of the right shape works there.
SANDBOX_BOT_TOKEN = "1000001:sandbox-token-not-secret"


# Commands besides running the bot: name -> (module with main(settings) -> exit status, help).
SUBCOMMANDS = {
    "update-ytdlp": ("core.ytdlp_cli", "upgrade yt-dlp, check it, restart the downloaders (or roll back)"),
    "keys": ("core.supervisor.keys", "make this host's CURVE key pair in DATA_DIR/curve/ (downloader hosts)"),
}
NO_TELEGRAM = ("keys",)  # commands that need no Telegram credentials (nor does a joined host)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Run the media downloader bot.")
    shown = "; ".join(f"{name}: {text}" for name, (_, text) in SUBCOMMANDS.items())
    parser.add_argument("command", nargs="?", choices=sorted(SUBCOMMANDS), help=f"instead of running the bot: {shown}")
    parser.add_argument("--workers", metavar="auto|N", help="downloader processes (auto: one per core)")
    parser.add_argument("--join", metavar="tcp://MAIN:PORT", help="be a downloader host of that main host")
    parser.add_argument("--sandbox", action="store_true", help="run against the built-in Telegram sandbox")
    parser.add_argument("--data-dir", metavar="PATH", help="folder for the database, spool and run files")
    parser.add_argument("--sandbox-port", type=int, metavar="N", help="port of the sandbox (web chat; 0: any free)")
    parser.add_argument("--monitor-port", type=int, metavar="N", help="port of the monitor's /healthz (0: any free)")
    parser.add_argument("--check", action="store_true", help="check everything the bot needs, one line each, then exit")
    parser.add_argument("--env-example", action="store_true", help="print .env.example (every setting), then exit")
    return parser.parse_args(argv)


def flag_overrides(args: argparse.Namespace) -> dict[str, str]:
    flags = {
        "WORKERS": args.workers,
        "DATA_DIR": args.data_dir,
        "SANDBOX_PORT": args.sandbox_port,
        "MONITOR_PORT": args.monitor_port,
        "SANDBOX": True if args.sandbox else None,
        "JOIN": args.join,
    }
    return to_environ({k: v for k, v in flags.items() if v is not None})


def sandbox_overrides(settings: Settings) -> dict[str, str]:
    """In sandbox mode the bot talks Bot API to the local sandbox. With SANDBOX_PORT=0 the
    sandbox binds any free port, and the supervisor passes the real one on once it listens."""
    port = settings.sandbox_port
    host = "127.0.0.1" if settings.sandbox_host in ("0.0.0.0", "") else settings.sandbox_host
    return {
        "SANDBOX_PORT": str(port),
        "TELEGRAM_BACKEND": "botapi",
        "BOTAPI_URL": f"http://{host}:{port}",
        "BOT_TOKEN": SANDBOX_BOT_TOKEN,
        "BOTAPI_UPLOAD_LIMIT_MB": str(settings.upload_limit_mb),
        "YTDLP_CHECK_URL": f"http://127.0.0.1:{port}{SANDBOX_SAMPLE}",  # a yt-dlp update's check, offline
    }


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] in (["backup"], ["restore"]):  # python run.py backup | restore FILE
        from core.backup import command

        return command(words)
    args = parse_args(argv)
    if args.env_example:
        from core.env_example import render

        print(render(), end="")
        return 0
    overrides = flag_overrides(args)
    settings: Settings | None = None
    try:
        settings = load_settings(overrides=overrides)
        if settings.sandbox:
            overrides |= sandbox_overrides(settings)
            settings = load_settings(overrides=overrides)
        if not settings.join and args.command not in NO_TELEGRAM:
            settings.check_credentials()
    except SettingsError as exc:
        if not args.check:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return preflight.main(settings, exc)
    if args.check:
        return preflight.main(settings, None)
    if args.command:
        module = importlib.import_module(SUBCOMMANDS[args.command][0])
        return int(module.main(settings))
    setup_from_settings("supervisor", settings)
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

    if settings.join:  # a downloader host: only downloaders, joined to the main host
        from core.supervisor.join import run_joined

        return await run_joined(settings, overrides, lambda line: print(line, flush=True))
    if settings.job_listen and not (settings.curve_dir / "host.key_secret").is_file():
        log.error("JOB_LISTEN is set but %s holds no key pair: make one with `python run.py keys`", settings.curve_dir)
        return 2
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
