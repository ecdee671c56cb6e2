"""A process that hammers the shared database, for tests/db/test_concurrency.py.

Usage: python -m tests.db.writer DB_PATH NAME ITERATIONS BUSY_TIMEOUT

It imports everything, prints `ready`, waits for `go` on stdin (so that two of them start
together, including the race to migrate a fresh file), then runs ITERATIONS rounds of small
transactions like the bot's: an autocommitted upsert, a read-modify-write of a shared counter, a
job plus its outbox row, and a claim of the oldest queued job. It never stops on an error: it
counts them, and prints one JSON line with what it did and what failed.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

from core.db import open_db, write_tx

SHARED_USERS = 50  # both processes upsert the same users, to contend on the same rows
WRITERS = 2  # processes meeting halfway, so that their runs surely overlap
MEET_DEADLINE = 30.0  # seconds to wait for the other writer halfway
MEET_POLL = 0.001  # seconds between looks at the other writer's mark


def meet_halfway(db, name: str) -> None:
    """A barrier through the database itself: mark our halfway point, wait for every writer's."""
    with write_tx(db):
        db.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, 'true', ?)", [f"halfway-{name}", time.time()]
        )
    deadline = time.monotonic() + MEET_DEADLINE
    while db.execute("SELECT count(*) FROM settings WHERE key LIKE 'halfway-%'").fetchone()[0] < WRITERS:
        if time.monotonic() > deadline:
            raise AssertionError(f"the other writer did not reach halfway within {MEET_DEADLINE}s")
        time.sleep(MEET_POLL)


def one_round(db, name: str, i: int, claimed: list[int]) -> None:
    now = time.time()
    user_id = i % SHARED_USERS + 1
    db.execute(
        "INSERT INTO users (id, first_name, joined_at, last_seen_at, requests_total) VALUES (?, ?, ?, ?, 1)"
        " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, requests_total = requests_total + 1",
        [user_id, name, now, now],
    )
    with write_tx(db):  # read-then-write: a lost update would show in the final count
        row = db.execute("SELECT value FROM settings WHERE key = 'counter'").fetchone()
        value = json.loads(row[0]) + 1 if row else 1
        db.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ('counter', ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [json.dumps(value), now],
        )
    with write_tx(db):
        job = db.execute(
            "INSERT INTO jobs (user_id, chat_id, url, request_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [user_id, user_id, f"https://example.com/{name}/{i}", f"url:{name}/{i}", now, now],
        ).lastrowid
        db.execute(
            "INSERT INTO outbox (chat_id, kind, payload, created_at, job_id) VALUES (?, 'text', ?, ?, ?)",
            [user_id, json.dumps({"text": f"queued {job}"}), now, job],
        )
    with write_tx(db):  # claim the oldest queued job, whoever queued it
        row = db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1").fetchone()
        if row is not None:
            cursor = db.execute(
                "UPDATE jobs SET state = 'downloading', worker = ?, attempts = attempts + 1, started_at = ?"
                " WHERE id = ? AND state = 'queued'",
                [name, now, row[0]],
            )
            if cursor.rowcount != 1:
                raise AssertionError(f"job {row[0]} was queued when read but not when claimed")
            claimed.append(row[0])


def main() -> None:
    path, name, iterations, busy_timeout = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go")
    started = time.perf_counter()
    errors: list[str] = []
    claimed: list[int] = []
    db = open_db(path, busy_timeout=busy_timeout)
    done = 0
    for i in range(iterations):
        try:
            if i == iterations // 2:
                meet_halfway(db, name)
            one_round(db, name, i, claimed)
            done += 1
        except (sqlite3.Error, AssertionError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    db.close()
    report = {"rounds": done, "errors": errors[:20], "error_count": len(errors), "claimed": claimed}
    report["seconds"] = time.perf_counter() - started
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
