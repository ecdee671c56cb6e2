"""Running under systemd: the unit file says what issue 21 asks and passes `systemd-analyze verify`;
the supervisor, under a fake NOTIFY_SOCKET, speaks the notify protocol as the unit expects (READY
with a STATUS, WATCHDOG while healthy, STATUS on a restart, STOPPING on SIGTERM) and exits 0 well
within the unit's TimeoutStopSec."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest
import trio

from core.config import Settings
from tests.supervisor.harness import ROOT, Bot

UNIT = ROOT / "deploy" / "systemd" / "mediabot.service"
INSTALLED_ROOT = "/opt/mediabot"


def directives() -> dict[str, list[str]]:
    """KEY -> its values, in order (a key may repeat: Environment=)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "min": 60}
    for unit, factor in units.items():
        if value.endswith(unit) and value[: -len(unit)].isdigit():
            return int(value[: -len(unit)]) * factor
    return float(value)


def test_the_unit_asks_for_what_the_supervisor_does():
    unit = directives()
    one = {key: values[-1] for key, values in unit.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert seconds(one["WatchdogSec"]) > 0 and one["Restart"] == "on-failure" and one["KillMode"] == "mixed"
    assert seconds(one["TimeoutStopSec"]) > Settings().shutdown_grace  # the drain fits, then our own SIGKILLs
    assert one["User"] not in ("", "root") and one["NoNewPrivileges"] == "yes"
    assert one["ProtectSystem"] == "strict" and one["PrivateTmp"] == "yes" and one["ProtectHome"] == "yes"
    data_dir = next(v.split("=", 1)[1] for v in unit["Environment"] if v.startswith("DATA_DIR="))
    writable = one["ReadWritePaths"].split()
    assert data_dir in writable and f"{INSTALLED_ROOT}/.venv" in writable  # /ytdlp update writes the venv
    assert one["ExecStart"].startswith(f"{INSTALLED_ROOT}/.venv/bin/python {INSTALLED_ROOT}/run.py")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    # verify checks that ExecStart's program exists: point the unit at this checkout.
    text = UNIT.read_text().replace(f"{INSTALLED_ROOT}/.venv/bin/python", sys.executable)
    text = text.replace(f"{INSTALLED_ROOT}/run.py", str(ROOT / "run.py"))
    local = tmp_path / "mediabot.service"
    local.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stdout + done.stderr


async def test_the_supervisor_speaks_the_notify_protocol(tmp_path, nursery):
    path = str(tmp_path / "notify.sock")
    plain = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    plain.bind(path)
    listener = trio.socket.from_stdlib_socket(plain)
    received: list[str] = []
    listening = trio.CancelScope()

    async def listen() -> None:
        with listening:
            while True:
                received.append((await listener.recv(4096)).decode())

    nursery.start_soon(listen)
    bot = Bot(tmp_path, "--workers", "1", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    try:
        await bot.start(nursery)
        await bot.ready_line(timeout=120)
        ready = await bot.wait_for("READY", lambda: next((m for m in received if "READY=1" in m), None))
        assert ready.splitlines()[1].startswith("STATUS=running ")
        await bot.wait_for("WATCHDOG", lambda: "WATCHDOG=1" in received)
        downloader = bot.processes()["downloader-1"]["pid"]
        os.kill(downloader, signal.SIGKILL)
        await bot.wait_for(
            "a STATUS about the restart",
            lambda: any(m.startswith("STATUS=restarting downloader-1") for m in received),
        )
        assert bot.process is not None
        bot.process.send_signal(signal.SIGTERM)
        timeout_stop = seconds(directives()["TimeoutStopSec"][-1])
        with trio.fail_after(timeout_stop):
            code = await bot.process.wait()
        assert code == 0
        assert any(m.startswith("STOPPING=1") for m in received)
    finally:
        with trio.CancelScope(shield=True):
            await bot.stop()
        listening.cancel()
        await trio.lowlevel.checkpoint()
        listener.close()
