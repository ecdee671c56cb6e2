"""The admin panel through Router.route against a real SQLite file: /health with a
real monitor RPC server (and without one: "unreachable" within the deadline), /circuit, /cleanup
of a real spool folder, /reset_stats with its confirmation; admins only, in their language."""

from __future__ import annotations

import json
import re
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
from ipc.messages import RpcReply

ADMIN = 4242
DEADLINE = 20.0
updates = iter(range(1, 1_000_000))
PROCESSES = [
    {"name": "supervisor", "pid": 10, "restarts": 0, "state": "ready", "last_exit": "", "heartbeat_age": None},
    {"name": "gateway", "pid": 11, "restarts": 0, "state": "ready", "last_exit": "", "heartbeat_age": 0.4},
    {"name": "uploader", "pid": 12, "restarts": 2, "state": "starting", "last_exit": "killed", "heartbeat_age": None},
]


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
    assert [d[2] for d in denied] == ["/health", "/circuit", "/cleanup", "/reset_stats"]
    assert {(d[0], d[1]) for d in denied} == {(7, "denied")}


async def test_health_shows_the_monitors_process_table_disk_spool_and_database(settings, db, tmp_path):
    asked = []
    with RpcServer(f"ipc://{tmp_path}/rpc.sock") as server, RpcClient(server.endpoint) as rpc:

        async def monitor() -> None:
            while True:
                peer, request = await server.recv()
                asked.append(request.method)
                await server.reply(peer, RpcReply(req_id=request.req_id, ok=True, result={"processes": PROCESSES}))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor)
            router = make_router(settings, db, rpc)
            with trio.fail_after(DEADLINE):
                await router.route(say(7, "/health"))  # no admin: refused without asking the monitor
                await router.route(say(ADMIN, "/health"))
            nursery.cancel_scope.cancel()
    shown = last_text(db, ADMIN)
    assert asked == ["health"]
    assert "✅ gateway: ready, pid 11, restarts 0, heartbeat 0.4 s ago" in shown
    assert "⚠️ uploader: starting, pid 12, restarts 2" in shown
    assert "✅ supervisor: ready, pid 10, restarts 0\n" in shown
    assert re.search(r"Free disk: \d+(\.\d)? %", shown) and "Spool: 0.0 MB" in shown
    assert re.search(r"Database: \d+\.\d MB", shown)


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
    await router.route(say(ADMIN, "/cleanup"))
    shown = last_text(db, ADMIN)
    assert "Removed 3 leftover spool folder(s), freed 1.5 MB" in shown and "now holds 0.5 MB" in shown
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
