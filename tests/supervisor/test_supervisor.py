"""The supervisor with real processes: readiness, restarts with back-off, crash loops, drain on
SIGTERM, no orphans after SIGKILL, one downloader per core, and systemd's notify protocol."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import signal
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing

import pytest
import trio

from ipc.endpoints import Endpoints
from tests.supervisor.harness import Bot, alive, free_port_run, gone, now
from tests.support.ports import refusing_port

BASE = ["monitor", "uploader", "gateway"]


@pytest.fixture
async def start_bot(tmp_path, nursery) -> AsyncIterator[Callable[..., Awaitable[Bot]]]:
    bots: list[Bot] = []

    async def start(*args: str, **env: str) -> Bot:
        bot = Bot(tmp_path / f"bot{len(bots)}", *args, env=env)
        bot.cwd.mkdir()
        bots.append(bot)
        await bot.start(nursery)
        return bot

    try:
        yield start
    finally:
        with trio.CancelScope(shield=True):
            for bot in bots:
                await bot.stop()


async def test_ready_line_names_every_process_and_healthz_lists_them(start_bot):
    bot = await start_bot("--workers", "2")
    line = await bot.ready_line()
    for name in [*BASE, "downloader-1", "downloader-2"]:
        assert re.search(rf"\b{name}\b", line), line
    procs = await bot.wait_for("all processes in /healthz", lambda: (p := bot.processes()) and len(p) >= 6 and p)
    children = bot.child_pids()
    for name in [*BASE, "downloader-1", "downloader-2"]:
        assert procs[name]["pid"] in children, (name, procs[name], children)
        assert procs[name]["restarts"] == 0
        assert procs[name]["state"] == "ready"
    assert procs["supervisor"]["pid"] == bot.pid
    assert bot.health()["status"] == "ok"


async def test_monitor_port_0_is_the_bound_port_in_the_ready_line_and_a_restarted_monitor_keeps_it(start_bot):
    bot = await start_bot("--workers", "1", RESTART_MIN_DELAY="0.1")  # the harness passes --monitor-port 0
    await bot.ready_line()
    assert not bot.health_url.startswith("http://127.0.0.1:0/"), bot.health_url
    monitor = (await bot.wait_for("the monitor in /healthz", lambda: bot.processes().get("monitor")))["pid"]
    os.kill(monitor, signal.SIGKILL)
    again = await bot.wait_for(  # at the same URL: an operator's health check goes on working
        "a new monitor at the same port",
        lambda: (p := bot.processes()["monitor"])["pid"] not in (0, monitor) and p["state"] == "ready" and p,
    )
    assert again["restarts"] == 1


async def test_killed_downloader_comes_back_with_a_new_pid_after_backoff(start_bot):
    bot = await start_bot("--workers", "1", RESTART_MIN_DELAY="0.3", RESTART_MAX_DELAY="5")
    await bot.ready_line()
    first = await bot.wait_for("downloader-1 in /healthz", lambda: bot.processes().get("downloader-1"))
    delays = []
    pid = first["pid"]
    for expected_restarts in (1, 2):
        os.kill(pid, signal.SIGKILL)
        killed_at = now()
        info = await bot.wait_for(
            "a new downloader-1",
            lambda pid=pid: (
                (p := bot.processes()["downloader-1"])["pid"] not in (0, pid) and p["state"] == "ready" and p
            ),
        )
        delays.append(now() - killed_at)
        assert info["restarts"] == expected_restarts, (info, first, bot.output())
        assert alive(info["pid"])
        pid = info["pid"]
    restart_logs = [line for line in bot.stderr if "downloader-1" in line and "restart" in line]
    assert len(restart_logs) == 2, restart_logs
    assert all("killed by SIGKILL" in line for line in restart_logs)
    assert "in 0.30s" in restart_logs[0] and "in 0.60s" in restart_logs[1]  # doubling back-off
    assert delays[0] >= 0.3 and delays[1] >= 0.6


async def test_a_crash_loop_cools_down_alerts_admins_keeps_the_rest_and_comes_back(start_bot):
    cooldown = 3.0
    bot = await start_bot(
        "--workers",
        "1",
        RESTART_MIN_DELAY="0.05",
        RESTART_MAX_DELAY="0.1",
        CRASH_LOOP_RESTARTS="2",
        CRASH_LOOP_COOLDOWN=str(cooldown),
        ADMIN_IDS="4242",
    )
    await bot.ready_line()
    before = await bot.wait_for("processes", lambda: len(p := bot.processes()) >= 5 and p)
    for attempt in range(3):
        pid = await bot.wait_for("downloader-1 running", lambda: bot.processes()["downloader-1"]["pid"])
        os.kill(pid, signal.SIGKILL)
        killed_at = now()
        if attempt < 2:
            await bot.wait_for(
                "downloader-1 restarted", lambda pid=pid: bot.processes()["downloader-1"]["pid"] not in (0, pid)
            )
    info = await bot.wait_for(
        "downloader-1 cooling down", lambda: (p := bot.processes()["downloader-1"])["state"] == "cooling" and p
    )
    assert info["pid"] == 0
    assert bot.health()["status"] == "degraded"
    after = bot.processes()
    for name in BASE:  # the rest keep running, untouched
        assert after[name]["pid"] == before[name]["pid"] and after[name]["state"] == "ready"
    assert any(f"trying again in {cooldown:g}s" in line for line in bot.stderr), bot.output()
    query = "SELECT chat_id, payload FROM outbox WHERE role = 'alert' AND payload LIKE '%downloader%'"
    with closing(sqlite3.connect(bot.data_dir / "bot.sqlite3")) as db:  # the monitor writes the alert
        rows = await bot.wait_for("the crash-loop alert", lambda: db.execute(query).fetchall())
    assert rows[0][0] == 4242  # (its "resolved" follows once the downloader is back)

    # After the cooldown it is tried again, and stays up: the bot is whole again.
    back = await bot.wait_for(
        "downloader-1 back after the cooldown",
        lambda: (p := bot.processes()["downloader-1"])["state"] == "ready" and p["pid"] and p,
    )
    assert now() - killed_at >= cooldown
    assert alive(back["pid"]) and back["restarts"] == 3
    await bot.wait_for("/healthz ok again", lambda: bot.health()["status"] == "ok")


async def test_sigterm_drains_leaves_no_process_and_exits_zero(start_bot):
    bot = await start_bot("--workers", "2")
    await bot.ready_line()
    children = await bot.wait_for("5 children", lambda: len(c := bot.child_pids()) >= 5 and c)
    os.kill(bot.pid, signal.SIGTERM)
    assert bot.process is not None
    with trio.fail_after(30):
        code = await bot.process.wait()
    assert code == 0, bot.output()
    await bot.wait_for("every child gone", gone(children), timeout=5, needs_running=False)
    assert any("draining" in line for line in bot.stderr)


async def test_sigkill_of_the_supervisor_leaves_no_orphans(start_bot):
    bot = await start_bot("--workers", "2")
    await bot.ready_line()
    children = await bot.wait_for("5 children", lambda: len(c := bot.child_pids()) >= 5 and c)
    os.kill(bot.pid, signal.SIGKILL)
    await bot.wait_for("every orphan gone", gone(children), timeout=15, needs_running=False)


async def test_workers_auto_starts_one_downloader_per_core(start_bot):
    bot = await start_bot("--workers", "auto")
    line = await bot.ready_line()
    cores = os.cpu_count() or 1
    assert re.findall(r"downloader-\d+", line) == [f"downloader-{i}" for i in range(1, cores + 1)]


async def test_systemd_ready_watchdog_and_hung_child(start_bot, tmp_path, nursery):
    path = str(tmp_path / "notify.sock")
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    await listener.bind(path)
    received: list[tuple[float, str]] = []

    listening = trio.CancelScope()

    async def listen() -> None:
        with listening:
            while True:
                received.append((now(), (await listener.recv(4096)).decode()))

    def pings(since: float = 0.0) -> list[float]:
        return [t for t, m in received if m == "WATCHDOG=1" and t >= since]

    nursery.start_soon(listen)
    try:
        bot = await start_bot(
            "--workers",
            "1",
            NOTIFY_SOCKET=path,
            WATCHDOG_USEC="400000",
            HEARTBEAT_TIMEOUT="1",
            HUNG_KILL_AFTER="3",
            HEARTBEAT_INTERVAL="0.2",
        )
        await bot.ready_line()
        await bot.wait_for("READY=1", lambda: any("READY=1" in m for _, m in received))
        await bot.wait_for("WATCHDOG=1", lambda: pings())
        # A hung gateway (stopped: alive but silent) stops the watchdog pings, then is replaced.
        gateway = bot.processes()["gateway"]["pid"]
        os.kill(gateway, signal.SIGSTOP)
        stopped_at = now()
        info = await bot.wait_for(
            "a new gateway", lambda: (p := bot.processes()["gateway"])["pid"] not in (0, gateway) and p
        )
        assert info["restarts"] == 1
        assert any("sent no heartbeat" in line for line in bot.stderr)
        resumed_from = now()
        await bot.wait_for("WATCHDOG=1 again", lambda: pings(resumed_from))
        # Pings come every 0.2 s; once the gateway's heartbeat went stale (1 s after SIGSTOP) they
        # stopped until the hung gateway was killed (3 s) and replaced.
        times = pings(stopped_at)
        gaps = [(a - stopped_at, b - a) for a, b in itertools.pairwise(times)]
        assert any(0.3 < at < 1.5 and gap >= 1.5 for at, gap in gaps), gaps
        assert all(gap < 0.5 for at, gap in gaps if at < 0.3), gaps  # fresh before that
    finally:
        listening.cancel()
        listener.close()


async def test_telegram_out_of_reach_at_boot_is_waited_out_not_a_crash_loop(start_bot):
    # MTProto through a local proxy that refuses: Telegram is unreachable, and no packet leaves
    # the machine. The gateway and the uploader keep retrying instead of crashing, and still drain.
    with refusing_port() as proxy:
        bot = await start_bot(
            "--workers",
            "1",
            TELEGRAM_BACKEND="mtproto",
            API_ID="12345",
            API_HASH="0123456789abcdef0123456789abcdef",
            PROXY_URL=f"socks5://127.0.0.1:{proxy}",
        )
        await bot.ready_line()
        before = await bot.wait_for("processes", lambda: len(p := bot.processes()) >= 4 and p)

        def failed_attempts(role: str) -> int:
            return sum(f"proc={role} " in line and "connect" in line.lower() for line in bot.stderr)

        await bot.wait_for(
            "repeated failed connects", lambda: failed_attempts("gateway") >= 2 and failed_attempts("uploader") >= 2
        )
        after = bot.processes()
        for name in ("gateway", "uploader"):
            assert after[name]["pid"] == before[name]["pid"] and after[name]["restarts"] == 0, after[name]
        assert not any("Traceback" in line for line in bot.stderr), bot.output()
        os.kill(bot.pid, signal.SIGTERM)
        assert bot.process is not None
        with trio.fail_after(10):  # well inside the 20 s grace: draining cancels the retries
            assert await bot.process.wait() == 0
        assert any("gateway stopped before reaching Telegram" in line for line in bot.stderr)


async def test_tcp_endpoints_work_like_ipc_ones(start_bot):
    # IPC_TRANSPORT=tcp is how downloaders on other hosts would connect.
    endpoints = len(dataclasses.fields(Endpoints))
    bot = await start_bot("--workers", "1", IPC_TRANSPORT="tcp", IPC_BASE_PORT=str(free_port_run(endpoints)))
    await bot.ready_line()
    procs = await bot.wait_for("processes", lambda: len(p := bot.processes()) >= 5 and p)
    assert all(procs[name]["state"] == "ready" for name in [*BASE, "downloader-1"])
    assert not list((bot.data_dir / "run").glob("*.sock"))  # no unix sockets were made


async def test_sandbox_port_taken_ends_the_run_with_a_clear_error(start_bot):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = await start_bot(
            "--sandbox",
            "--workers",
            "1",
            "--sandbox-port",
            str(port),
            RESTART_MIN_DELAY="0.05",
            RESTART_MAX_DELAY="0.1",
        )
        assert bot.process is not None
        with trio.fail_after(60):
            code = await bot.process.wait()
    assert code == 1, bot.output()
    text = "\n".join(bot.stderr)
    assert "Address already in use" in text and "sandbox keeps failing" in text
    assert "Traceback" not in text
    assert not any(line.startswith("ready:") for line in bot.stdout)


async def test_a_second_bot_on_the_same_data_folder_is_refused(start_bot):
    first = await start_bot("--workers", "1")
    await first.ready_line()
    pids = await first.wait_for("processes", lambda: len(p := first.processes()) >= 5 and p)
    second = await start_bot("--workers", "1", "--data-dir", str(first.data_dir))
    assert second.process is not None
    with trio.fail_after(30):
        assert await second.process.wait() == 1
    assert any(f"pid {first.pid}" in line and "already running" in line for line in second.stderr), second.output()
    after = first.processes()
    assert {n: p["pid"] for n, p in after.items()} == {n: p["pid"] for n, p in pids.items()}
    assert first.health()["status"] == "ok"
