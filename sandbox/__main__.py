"""`python -m sandbox --port N [--data-dir PATH] [--host 127.0.0.1]`: the sandbox on its own.

Prints exactly one line, `SANDBOX_READY http://127.0.0.1:<port>`, to stdout once it listens (the
supervisor's readiness signal); logs go to stderr. SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
from functools import partial
from pathlib import Path

import trio

from core.config import Settings, SettingsError, load_settings
from core.logs import setup_from_settings
from sandbox.server import serve

READY_PREFIX = "SANDBOX_READY"
log = logging.getLogger("sandbox")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="A local stand-in for Telegram.")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default=None, help="address to listen on (default SANDBOX_HOST, 127.0.0.1)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for files and media (default DATA_DIR)")
    parser.add_argument("--media-dir", type=Path, default=None, help="folder of cached sample media")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace, settings: Settings) -> None:
    port = settings.sandbox_port if args.port is None else args.port
    data_dir = args.data_dir or settings.data_dir
    media_dir = args.media_dir or settings.sandbox_media_dir
    start = partial(serve, port, data_dir, host=args.host, settings=settings, media_dir=media_dir)
    # Listen for signals from the start: a SIGTERM during start-up waits for us instead of killing us.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(start)
            print(f"{READY_PREFIX} {url}", flush=True)
            async for signum in signals:
                log.info("signal %s: stopping", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    if args.data_dir is not None:  # its logs (DATA_DIR/logs) go where its files go
        settings = dataclasses.replace(settings, data_dir=args.data_dir)
    setup_from_settings("sandbox", settings)
    status = 0
    try:
        trio.run(_main, args, settings)
    except* OSError as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        log.error("cannot serve: %s", leaf)
        status = 1
    except* KeyboardInterrupt:
        pass
    return status


if __name__ == "__main__":
    sys.exit(main())
