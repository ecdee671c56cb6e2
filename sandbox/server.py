"""Running the sandbox: `serve()` for tests (`await nursery.start(serve, 0, tmp_path)`) and __main__."""

from __future__ import annotations

import logging
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from core.config import Settings
from sandbox.app import build_app
from sandbox.context import Sandbox
from sandbox.files import FileStore
from sandbox.live_config import LiveConfig
from sandbox.media import ensure_media

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 75.0  # idle keep-alive connections; long polls are not idle
GRACEFUL_S = 1.0


def _hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.keep_alive_timeout = KEEP_ALIVE_S
    config.graceful_timeout = GRACEFUL_S
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    return config


def make_sandbox(data_dir: Path, settings: Settings, media_dir: Path | None = None) -> Sandbox:
    root = data_dir / "sandbox"
    files = FileStore(root / "files")
    files.prepare()
    return Sandbox(
        config=LiveConfig.from_settings(settings),
        initial=LiveConfig.from_settings(settings),
        files=files,
        media_dir=media_dir or root / "media",
    )


async def serve(
    port: int,
    data_dir: Path,
    *,
    host: str | None = None,
    settings: Settings | None = None,
    media_dir: Path | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; `task_status.started(url)` once listening (url has the real port).

    Settings default to the built-in defaults (not the environment): `python -m sandbox` passes
    the loaded ones. Sample media are made on first start (ffmpeg), or taken from `media_dir`.
    """
    settings = settings or Settings()
    sandbox = make_sandbox(Path(data_dir), settings, Path(media_dir) if media_dir else None)
    try:
        await trio.to_thread.run_sync(ensure_media, sandbox.media_dir)
    except Exception as exc:  # the Bot API still works without samples
        log.error("sample media unavailable in %s: %s", sandbox.media_dir, exc)
    config = _hypercorn_config(host or settings.sandbox_host, port)
    app = build_app(sandbox)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn_serve, app, config)
        url = str(binds[0]).rstrip("/")
        log.info("sandbox listening on %s (data in %s)", url, data_dir)
        task_status.started(url)
