"""`honcho start` runs `procfile` (each process on its own, no supervisor) and the bot works against
the sandbox: a link becomes a file in the chat; SIGTERM to honcho stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import trio

from tests.support.bot import Chat
from tests.support.paths import ROOT
from tests.support.poll import until
from tests.support.sandbox import SandboxProcess

HONCHO = Path(sys.executable).with_name("honcho")
STOP_S = 30.0


async def test_honcho_brings_the_bot_up_against_the_sandbox(tmp_path):
    media = os.environ.get("SANDBOX_MEDIA_DIR")
    sandbox = SandboxProcess(tmp_path, Path(media) if media else None)
    port = int(sandbox.url.rsplit(":", 1)[1])
    env_file = tmp_path / "honcho.env"
    env_file.write_text(
        "\n".join(
            [
                "TELEGRAM_BACKEND=botapi",
                f"BOTAPI_URL={sandbox.url}",
                "BOT_TOKEN=424299:honcho-test-token",
                "SANDBOX=1",  # downloads may reach the sandbox's origin, and nothing else
                f"SANDBOX_PORT={port}",
                f"DATA_DIR={tmp_path / 'data'}",
                "MONITOR_PORT=0",  # any free port
                "LOG_LEVEL=info",
            ]
        )
        + "\n"
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `python` is this venv's
    log = (tmp_path / "honcho.log").open("wb")
    honcho = await trio.lowlevel.open_process(
        [str(HONCHO), "-f", str(ROOT / "procfile"), "-d", str(ROOT), "-e", str(env_file), "start"],
        cwd=ROOT,
        env={**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as http:
            chat = Chat(http, 64_001, None)
            await chat.say(f"{sandbox.url}/media/thumb.jpg?k=honcho")
            [sent] = await chat.wait_files(1, timeout=120)
            assert sent["media"]["kind"] in ("photo", "document")
        children = psutil.Process(honcho.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for module in ("monitor", "uploader", "gateway", "downloader"):
            assert f"-m {module}" in names, names
        honcho.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_S):
            await honcho.wait()

        async def all_gone() -> bool:
            return not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)

        await until("every process to stop", all_gone, STOP_S)
    finally:
        if honcho.returncode is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            with trio.CancelScope(shield=True):
                await honcho.wait()
        log.close()
        sandbox.stop()
