"""Broadcast to 10,000 users against the sandbox with Telegram's limits on (30 messages/s): the
measured time against the ideal 10,000 / 30 s, and the 429s (must be 0).

The uploader's side as it runs in the bot: the broadcast runner and the outbox sender (which
sends the admin's status message, its progress edits and the report) share one send budget and
one SQLite file, over the botapi adapter to a `python -m sandbox` subprocess. The gateway's part
is done directly (users and the running broadcast written as /start and Confirm leave them), and
the sandbox users write to a bot that does not poll, so the welcome of 10,000 /starts (another
333 s at 30/s) is not part of the figure.

Usage: .venv/bin/python bench/bench_broadcast.py [--users 10000]

Goal (issue 10): within 5 % of the ideal, with no 429.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.table import result
from core import outbox
from core.config import load_settings
from core.db import open_db
from core.payloads import Copy, Text, encode_payload
from core.telegram.connect import connect_port
from ipc.channels import Pusher
from tests.sandbox.support import TOKEN
from tests.support.sandbox import SandboxProcess
from uploader.broadcast import BroadcastRunner
from uploader.sender import OutboxSender

TABLE_ARGS = ["--users", "1500"]  # `make bench`: 50 s of sends
ADMIN = 1
FIRST_USER = 1_000
POLITE = 50  # users created at once through the user API
SEND_WINDOW = 256  # as uploader.main
WITHIN = 0.05  # the goal: within 5 % of users / rate


async def make_users(http: httpx.AsyncClient, ids: range) -> None:
    limiter = trio.CapacityLimiter(POLITE)

    async def start(user_id: int) -> None:
        async with limiter:
            r = await http.post(f"/sandbox/users/{user_id}/messages", json={"text": "/start", "language_code": "en"})
            r.raise_for_status()

    async with trio.open_nursery() as nursery:
        for user_id in ids:
            nursery.start_soon(start, user_id)


async def bench(url: str, folder: Path, users: int) -> None:
    settings = load_settings(
        environ={"DATA_DIR": str(folder / "bot"), "TELEGRAM_BACKEND": "botapi", "BOTAPI_URL": url, "BOT_TOKEN": TOKEN},
        env_file=None,
    )
    ids = range(FIRST_USER, FIRST_USER + users)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        assert (await http.get("/sandbox/config")).json()["limits"] is True
        made = time.monotonic()
        await make_users(http, ids)
        news = await http.post(f"/sandbox/users/{ADMIN}/messages", json={"text": "News!", "language_code": "en"})
        print(f"{users} sandbox users made in {time.monotonic() - made:.1f} s")
        db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
        now = time.time()
        db.conn.executemany(
            "INSERT INTO users (id, language, joined_at, last_seen_at) VALUES (?, 'en', ?, ?)",
            [(user_id, now - 1, now - 1) for user_id in (ADMIN, *ids)],
        )
        db.conn.commit()
        status = outbox.enqueue(db, ADMIN, Text(text=f"Send to {users} users?"))
        copy = Copy(from_chat_id=ADMIN, message_id=int(news.json()["message_id"]))
        broadcast_id = db.execute(
            "INSERT INTO broadcasts (admin_id, payload, state, total, created_at, started_at, updated_at,"
            " status_outbox_id) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
            [ADMIN, encode_payload(copy), users, now, now, now, status],
        ).lastrowid
        before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.monotonic()
        draining = trio.Event()
        with Pusher(f"ipc://{folder}/events.sock") as events:
            async with connect_port(settings, role="uploader", stop=draining) as port:
                sender = OutboxSender(settings, db, port, events)
                runner = BroadcastRunner(settings, db, port, sender.budget, lambda: sender.wake.set())
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender.run, draining, SEND_WINDOW)
                    nursery.start_soon(runner.run, draining)
                    while (
                        db.execute("SELECT reported_at FROM broadcasts WHERE id = ?", [broadcast_id]).fetchone()[0]
                        is None
                    ):
                        await trio.sleep(0.2)
                    took = time.monotonic() - began
                    while db.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')").fetchone()[0]:
                        await trio.sleep(0.2)  # the report goes out too
                    draining.set()
        after = resource.getrusage(resource.RUSAGE_SELF)
        stats = (await http.get("/sandbox/stats")).json()
        row = db.execute(
            "SELECT sent, failed, blocked, unknown FROM broadcasts WHERE id = ?", [broadcast_id]
        ).fetchone()
        db.close()
    ideal = users / settings.tg_global_rate
    copies = stats["copies_per_chat"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(
        f"broadcast to {users} users: {took:.1f} s, ideal {ideal:.1f} s ({users} / {settings.tg_global_rate:g} per s), "
        f"{(took / ideal - 1) * 100:+.1f} % ({'within' if took <= ideal * (1 + WITHIN) else 'OUTSIDE'} 5 %); "
        f"{users / took:.2f} copies/s"
    )
    print(
        f"sent {row[0]}, failed {row[1]}, blocked {row[2]}, unknown {row[3]}; sandbox: {len(copies)} chats copied, "
        f"max {max(copies.values())} a chat, 429s {stats['flood_waits']}, peak {stats['peak_send_rate']}/s; "
        f"uploader-side CPU {cpu:.1f} s ({cpu / took * 100:.0f} % of a core); load average {os.getloadavg()[0]:.2f}"
    )
    result(f"broadcast to {users} users, limits on: time over the ideal {users} / {settings.tg_global_rate:g} s",
           (took / ideal - 1) * 100, "%", goal=f"<= {WITHIN * 100:g} %", digits=1,
           note=f"{took:.1f} s, {users / took:.2f} copies/s, at most {max(copies.values())} a chat")  # fmt: skip
    result("429s during the broadcast", stats["flood_waits"], "", goal="0", digits=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
        data = Path(tmp) / "sandbox"
        data.mkdir()
        sandbox = SandboxProcess(data)
        try:
            print(f"sandbox at {sandbox.url} (pid {sandbox.proc.pid}, {os.cpu_count()} cores)")
            trio.run(bench, sandbox.url, Path(tmp), args.users)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
