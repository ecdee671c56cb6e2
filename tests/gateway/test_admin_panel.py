"""The admin panel through Router.route against a real SQLite file: /health with a
real monitor RPC server (and without one: "unreachable" within the deadline), /circuit, /cleanup
of a real spool folder, /reset_stats with its confirmation; admins only, in their language."""

from __future__ import annotations

import json
import os
import time

import pytest
import trio

from core.callback_data import CallbackCodec
from core.config import load_settings
from core.db import open_db
from core.telegram import CallbackQuery, Chat, IncomingMessage, User
from gateway.admin import panel
from gateway.handlers import links
from gateway.main import HANDLERS
from gateway.router import Router
from ipc.channels import RpcClient, RpcServer
from ipc.messages import (
    ActiveAlert,
    HealthReport,
    HostHealth,
    MachineHealth,
    ProcessHealth,
    QueueHealth,
    RpcReply,
)

ADMIN = 4242
DEADLINE = 20.0
updates = iter(range(1, 1_000_000))
PROCESSES = [
    ProcessHealth("supervisor", 10, "ready", 40_000_000, 0.5, None, 0),
    ProcessHealth("gateway", 11, "ready", 80_000_000, 3.2, 0.4, 0),
    ProcessHealth("uploader", 12, "cooling", 0, 0.0, None, 6, last_exit="exit code 1"),
    ProcessHealth("downloader-1", 13, "stalled", 60_000_000, 0.0, 12.5, 0),
    ProcessHealth("supervisor@dl2", 20, "ready", 30_000_000, 0.2, None, 0),
    ProcessHealth("downloader-1@dl2", 21, "ready", 70_000_000, 25.0, 0.3, 1),
    ProcessHealth("downloader-1@dl3", 31, "unreachable", 70_000_000, 0.0, 9.0, 0),
]
HOSTS = [
    HostHealth("dl2", "joined", 0.4, 1, MachineHealth(disk_free_pct=80.0, memory_pct=40.0, cpu_pct=30.0,
                                                      load=(1.5, 1.0, 0.5))),
    HostHealth("dl3", "lost", 9.0, 1, MachineHealth(disk_free_pct=50.0, memory_pct=20.0, cpu_pct=5.0)),
    HostHealth("dl4", "left", 3725.0, 2, MachineHealth(disk_free_pct=60.0, memory_pct=10.0, cpu_pct=1.0)),
]  # fmt: skip
ALERTS = [
    ActiveAlert(
        "crash_loop:uploader",
        "alert_crash_loop",
        {"kind": "uploader", "reason": "exit code 1", "minutes": "5"},
        1.0,
        True,
    ),
    ActiveAlert("disk", "alert_disk_low", {"free_pct": "4.5", "free_gb": "9.1", "path": "/srv"}, 2.0, False),
]
REPORT = HealthReport(
    status="degraded",
    uptime_s=3 * 3600 + 125,
    backend="sandbox",
    processes=PROCESSES,
    queue=QueueHealth(queued=7, running=2),
    active_users_24h=31,
    alerts=ALERTS,
    machine=MachineHealth(
        disk_free_bytes=9_100_000_000, disk_free_pct=4.5, memory_pct=61.0, cpu_pct=12.0, load=(0.5, 0.25, 0.1),
        spool_bytes=1_500_000_000, database_bytes=2_000_000, checked_at=1.0,
    ),
    hosts=HOSTS,
)  # fmt: skip


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"DATA_DIR": str(tmp_path), "ADMIN_IDS": str(ADMIN)}, env_file=None)


@pytest.fixture
def db(settings):
    db = open_db(settings.db_path, busy_timeout=5)
    yield db
    db.close()


def make_router(settings, db, rpc: RpcClient | None = None) -> Router:
    prepare = panel.prepare_steps(settings, rpc) if rpc is not None else None
    return Router(settings, db, CallbackCodec.from_data_dir(settings.data_dir), HANDLERS, links.links, prepare=prepare)


def say(user_id: int, text: str, lang: str = "en") -> IncomingMessage:
    n = next(updates)
    sender = User(id=user_id, first_name="A", language_code=lang)
    return IncomingMessage(update_id=n, message_id=n, chat=Chat(id=user_id), sender=sender, date=0, text=text)


def last_text(db, chat_id: int) -> str:
    row = db.execute("SELECT payload FROM outbox WHERE chat_id = ? ORDER BY id DESC LIMIT 1", [chat_id]).fetchone()
    return str(json.loads(row[0])["text"])


def add_job(db, user_id: int, state: str, platform: str | None, *, created: float, finished: float | None = None):
    return db.execute(
        "INSERT INTO jobs (user_id, chat_id, url, request_key, platform, state, created_at, updated_at, finished_at)"
        " VALUES (?, ?, 'https://x.test/v', 'k', ?, ?, ?, ?, ?)",
        [user_id, user_id, platform, state, created, created, finished],
    ).lastrowid


async def test_every_panel_command_refuses_a_user_who_is_no_admin(settings, db):
    router = make_router(settings, db)
    for command in ("/health", "/circuit", "/cleanup", "/reset_stats"):
        await router.route(say(7, command))
        assert "admins only" in last_text(db, 7), command
    denied = db.execute("SELECT admin_id, action, detail FROM admin_audit ORDER BY id").fetchall()
    assert [tuple(d) for d in denied] == [(7, "denied", "/health")]  # answered and audited once a minute


async def test_health_shows_the_monitors_whole_report_in_the_admins_language(settings, db, tmp_path):
    asked = []
    with RpcServer(f"ipc://{tmp_path}/rpc.sock") as server, RpcClient(server.endpoint) as rpc:

        async def monitor() -> None:
            while True:
                peer, request = await server.recv()
                asked.append(type(request.call).__name__)
                await server.reply(peer, RpcReply(req_id=request.req_id, ok=True, result=REPORT))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor)
            router = make_router(settings, db, rpc)
            with trio.fail_after(DEADLINE):
                await router.route(say(7, "/health"))  # no admin: refused without asking the monitor
                await router.route(say(ADMIN, "/health"))
                english = last_text(db, ADMIN)
                db.execute("UPDATE users SET language = 'fa' WHERE id = ?", [ADMIN])
                await router.route(say(ADMIN, "/health", lang="fa"))
                persian = last_text(db, ADMIN)
            nursery.cancel_scope.cancel()
    assert asked == ["HealthQuery", "HealthQuery"]
    assert english.startswith("🩺 Health: degraded · up 3 h 2 min\n")
    assert "✅ gateway: ready, pid 11, 80 MB, CPU 3 %, restarts 0, heartbeat 0.4 s ago" in english
    assert "⚠️ uploader: paused after crashes, pid 12, 0 MB, CPU 0 %, restarts 6\n" in english
    assert "⚠️ downloader-1: stuck, pid 13, 60 MB, CPU 0 %, restarts 0, heartbeat 12.5 s ago" in english
    assert "Free disk: 4.5 % (9.1 GB)" in english and "Spool: 1.5 GB" in english and "Database: 2.0 MB" in english
    assert "Memory: 61 % · CPU: 12 % · Load: 0.50 0.25 0.10" in english
    assert "Jobs: 7 queued · 2 running · 👥 31 users in 24 h" in english
    assert "🔔 Active alerts:\n• ⚠️ Alert: the uploader process keeps crashing (last: exit code 1)" in english
    assert "• 🚨 Critical: only 4.5 % of the disk is free (9.1 GB) in /srv." in english
    assert "(held back by the cooldown)" in english
    # each joined host, as /healthz lists it, with its processes under it (not among this host's)
    hosts = english.split("\n\n🖧 Downloader hosts:\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert hosts == [
        "✅ dl2: joined, downloaders 1, last seen 0.4 s ago"
        " · free disk 80 % · memory 40 % · CPU 30 % · load 1.50 1.00 0.50",
        "    ✅ supervisor@dl2: ready, pid 20, 30 MB, CPU 0 %, restarts 0",
        "    ✅ downloader-1@dl2: ready, pid 21, 70 MB, CPU 25 %, restarts 1, heartbeat 0.3 s ago",
        "⚠️ dl3: silent, downloaders 1, last seen 9 s ago"
        " · free disk 50 % · memory 20 % · CPU 5 % · load 0.00 0.00 0.00",
        "    ⚠️ downloader-1@dl3: its host is unreachable, pid 31, 70 MB, CPU 0 %, restarts 0, heartbeat 9 s ago",
        "⚠️ dl4: left (stopped on purpose), downloaders 2, last seen 1 h 2 min ago"
        " · free disk 60 % · memory 10 % · CPU 1 % · load 0.00 0.00 0.00",
    ], hosts
    this_host = english.split("🖧 Downloader hosts:", 1)[0]
    assert "downloader-1: stuck" in this_host and "@dl" not in this_host
    # Persian: the same report, Persian words and digits around the process names and the path
    assert persian.startswith("🩺 سلامت: ناقص · روشن از ۳ ساعت و ۲ دقیقه پیش")
    assert "✅ gateway: آماده، شناسه ۱۱، ۸۰ مگابایت، پردازنده ۳ ٪" in persian
    assert "⚠️ downloader-1: گیر کرده" in persian and "۱۲٫۵ ثانیه پیش" in persian
    assert "فقط ۴٫۵ ٪ از دیسک خالی است (۹٫۱ گیگابایت) در /srv" in persian
    assert "👥 ۳۱ کاربر" in persian and "Health" not in persian
    assert "🖧 میزبان‌های دانلود:\n✅ dl2: متصل، ۱ دانلودکننده، آخرین خبر ۰٫۴ ثانیه پیش · فضای آزاد دیسک ۸۰ ٪" in persian
    assert "\n    ✅ downloader-1@dl2: آماده، شناسه ۲۱" in persian
    assert "⚠️ dl3: بی‌خبر، ۱ دانلودکننده" in persian and "⚠️ downloader-1@dl3: میزبانش در دسترس نیست" in persian
    assert "⚠️ dl4: رفته (عمداً متوقف شد)، ۲ دانلودکننده، آخرین خبر ۱ ساعت و ۲ دقیقه پیش" in persian


async def test_health_says_the_monitor_is_unreachable_within_its_deadline(settings, db, tmp_path):
    with RpcClient(f"ipc://{tmp_path}/nobody.sock") as rpc:
        router = make_router(settings, db, rpc)
        began = trio.current_time()
        with trio.fail_after(DEADLINE):
            await router.route(say(ADMIN, "/health"))
        waited = trio.current_time() - began
    assert "monitor is unreachable" in last_text(db, ADMIN) and "Free disk:" in last_text(db, ADMIN)
    assert waited >= panel.HEALTH_RPC_TIMEOUT


async def test_circuit_lists_each_breaker_with_its_state_and_when_it_tests_again(settings, db):
    now = time.time()
    db.execute(
        "INSERT INTO circuits (platform, state, failures, opened_at, probe_job, updated_at) VALUES"
        " ('Youtube', 'open', 5, ?, NULL, ?), ('Generic:example.com', 'closed', 2, NULL, NULL, ?)",
        [now - 10, now, now],
    )
    router = make_router(settings, db)
    await router.route(say(ADMIN, "/circuit"))
    shown = last_text(db, ADMIN)
    assert "🔴 Youtube: open, 5 failures in a row, test download in 50 s" in shown
    assert "🟢 Generic:example.com: closed, 2 failures in a row" in shown
    db.execute("DELETE FROM circuits")
    await router.route(say(ADMIN, "/circuit"))
    assert "every circuit is closed" in last_text(db, ADMIN)


async def test_cleanup_removes_the_spool_folders_of_jobs_that_are_over_and_keeps_the_rest(settings, db):
    router = make_router(settings, db)
    await router.route(say(3, "/start"))
    now = time.time()
    over = add_job(db, 3, "done", "Youtube", created=now, finished=now)
    active = add_job(db, 3, "downloading", "Youtube", created=now)
    # 999: a folder no job owns (a crash left it); the active job's older attempt is over too
    for name in (f"{over}-1", f"{active}-0", f"{active}-7", "999-1"):
        folder = settings.spool_dir / name
        folder.mkdir(parents=True)
        (folder / "part.bin").write_bytes(b"x" * 500_000)
        old = now - settings.sweep_min_age_s - 1  # the sweeper leaves what changed lately alone
        os.utime(folder / "part.bin", (old, old))
        os.utime(folder, (old, old))
    await router.route(say(ADMIN, "/cleanup"))
    shown = last_text(db, ADMIN)
    assert "Removed 3 leftover spool folder(s) and 0 partial or old log file(s), freed 1.5 MB" in shown
    assert "now holds 0.5 MB" in shown
    assert sorted(p.name for p in settings.spool_dir.iterdir()) == [f"{active}-0"]
    assert db.execute("SELECT action FROM admin_audit").fetchall() == [("cleanup",)]


async def test_reset_stats_asks_first_and_resets_only_when_confirmed(settings, db):
    router = make_router(settings, db)
    for user_id in (1, 2):
        await router.route(say(user_id, "/start"))
    db.execute("UPDATE users SET downloads_ok = 3, bytes_sent = 900, requests_total = 5")
    await router.route(say(ADMIN, "/reset_stats"))
    row = db.execute("SELECT id, payload FROM outbox WHERE chat_id = ? ORDER BY id DESC LIMIT 1", [ADMIN]).fetchone()
    asked = json.loads(row[1])
    assert "all 3 users" in asked["text"]
    keep, reset = (
        next(b["data"] for line in asked["keyboard"] for b in line if word in b["text"]) for word in ("Keep", "Reset")
    )

    def pressed(data: str) -> CallbackQuery:
        n = next(updates)
        return CallbackQuery(update_id=n, id=f"q{n}", sender=User(id=ADMIN), chat_id=ADMIN, message_id=9, data=data)

    await router.route(pressed(keep))
    assert db.execute("SELECT total(downloads_ok) FROM users").fetchone()[0] == 6  # kept
    await router.route(pressed(reset))
    assert db.execute("SELECT total(downloads_ok + bytes_sent + requests_total) FROM users").fetchone()[0] == 0
    edit = db.execute("SELECT payload FROM outbox WHERE kind = 'edit' ORDER BY id DESC LIMIT 1").fetchone()
    assert json.loads(edit[0]) == {"op": "edit", "text": "The counters of 3 users are reset.", "message_id": 9}
    assert db.execute("SELECT action, detail FROM admin_audit").fetchall() == [("reset_stats", "3 users")]
