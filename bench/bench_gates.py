"""The gateway's cost per update through every gate: in process, Router + gates on a real SQLite
file, 10,000 known users, 5 sponsor locks all cached (a port answering getChatMember from memory).

Usage: .venv/bin/python bench/bench_gates.py [--updates 20000] [--users 10000] [--locks 5]

Mixes, each timed end to end through `Router.route` (the async pre-phase, one write transaction
and its commit per update):
  gates    a YouTube-style link from a random verified user through every gate, the job itself
           not made (`take` stubbed): what the gates cost, with the cost of each one in µs;
  links    the same with the job made (gateway.jobs.create; queued jobs drained every few hundred
           updates, as downloaders would);
  chatter  plain text from a random verified user: maintenance, ban, the hint once a minute;
  refused  links past the queue cap (QUEUE_MAX jobs waiting): every gate, then "busy" once a minute.
Goal: at least 2,000 updates/s with every gate on; getChatMember never asked for a cached user.
"""

from __future__ import annotations

import argparse
import inspect
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from core import extractor_index  # noqa: E402
from core.callback_data import CallbackCodec  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.db import open_db, write_tx  # noqa: E402
from core.telegram import Chat, IncomingMessage, User  # noqa: E402
from gateway import gates as gates_module  # noqa: E402
from gateway import limits  # noqa: E402
from gateway.gates import Gates  # noqa: E402
from gateway.main import HANDLERS  # noqa: E402
from gateway.router import Router  # noqa: E402
from tests.gateway.gatekit import MemberPort  # noqa: E402

GOAL_PER_S = 2000
TABLE_ARGS = ["--updates", "5000"]  # `make bench`
RESULTS = {  # the mixes in the table: figure, goal
    "gates": ("gates: updates through every gate in-process, 10,000 users, 5 locks cached", ">= 2,000"),
    "links": ("links that become jobs, through the gates", ""),
}
DRAIN_EVERY = 200  # updates between "downloaders took the queue" in the links mix
ADMIN = 1


class Timings:
    """Wraps functions to add up their time per call (a perf_counter pair: ~0.1 µs of its own)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        inner: Callable[..., Any] = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.add(name, start)

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                self.add(name, start)

        setattr(owner, attr, timed_async if inspect.iscoroutinefunction(inner) else timed)

    def add(self, name: str, start: float) -> None:
        self.total[name] += time.perf_counter() - start
        self.calls[name] += 1

    def report(self) -> None:
        for name in self.total:
            print(
                f"  {name:<34} {self.total[name] / max(1, self.calls[name]) * 1e6:8.1f} µs  ({self.calls[name]} calls)"
            )


def message(update_id: int, user_id: int, text: str) -> IncomingMessage:
    return IncomingMessage(
        update_id=update_id,
        message_id=update_id,
        chat=Chat(id=user_id),
        sender=User(id=user_id, first_name="u", language_code="fa"),
        date=0,
        text=text,
    )


def setup(folder: Path, users: int, locks: int, queue_max: int) -> tuple[Router, Gates, MemberPort]:
    env = {"DATA_DIR": str(folder), "ADMIN_IDS": str(ADMIN), "QUEUE_MAX": str(queue_max)}
    settings = load_settings(environ=env, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    now = time.time()
    with write_tx(db):
        db.conn.executemany(
            "INSERT INTO users (id, first_name, language, joined_at, last_seen_at) VALUES (?, 'u', 'fa', ?, ?)",
            [(1000 + n, now, now) for n in range(users)],
        )
        for n in range(locks):
            db.execute(
                "INSERT INTO sponsors (username, title, position, created_at) VALUES (?, ?, ?, ?)",
                [f"bench_lock{n}", f"Lock {n}", n, now],
            )
    port = MemberPort()
    for n in range(locks):
        for user in range(users):
            port.join(f"@bench_lock{n}", 1000 + user)
    gates = Gates(settings, db, CallbackCodec.from_data_dir(folder))
    gates.attach(port)  # type: ignore[arg-type]
    return Router(settings, db, gates.codec, HANDLERS, gates.links, gates), gates, port


async def warm(router: Router, gates: Gates, users: int, first_id: int) -> int:
    """Every user verified once (the cache holds all of them, their sponsor_users rows written)."""
    for n in range(users):
        user = 1000 + n
        await gates.locks.verify(user)
        with write_tx(router.db):
            gates.locks.verdict(router.db, user)
    return first_id


async def run_mix(router: Router, name: str, updates: int, users: int, make: Callable[[int, int], str],
                  start_id: int, drain: bool) -> int:  # fmt: skip
    rng = random.Random(name)
    update_id = start_id
    started = time.perf_counter()
    for n in range(updates):
        update_id += 1
        await router.route(message(update_id, 1000 + rng.randrange(users), make(update_id, n)))
        if drain and n % DRAIN_EVERY == DRAIN_EVERY - 1:
            with write_tx(router.db):
                router.db.execute(
                    "UPDATE jobs SET state = 'done', finished_at = ?, updated_at = ? WHERE state = 'queued'",
                    [time.time(), time.time()],
                )
    took = time.perf_counter() - started
    print(f"{name:<8} {updates / took:8.0f} updates/s   {took / updates * 1e6:7.1f} µs/update")
    if name in RESULTS:
        result(RESULTS[name][0], updates / took, "updates/s", goal=RESULTS[name][1], digits=0)
    return update_id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--locks", type=int, default=5)
    args = parser.parse_args()
    extractor_index.prepare()
    with tempfile.TemporaryDirectory(prefix="bench-gates-") as tmp:
        router, gates, port = setup(Path(tmp), args.users, args.locks, queue_max=500)
        await warm(router, gates, args.users, 0)
        asked = sum(port.calls.values())
        print(f"{args.users} users, {args.locks} locks, cache {len(gates.locks.cache)} answers; "
              f"{asked} getChatMember to warm it")  # fmt: skip
        timings = Timings()
        timings.wrap(gates, "before", "pre-phase (async, before the tx)")
        timings.wrap(gates, "admit", "1-2 maintenance, ban")
        timings.wrap(gates.locks, "verdict", "3 locks (5 cached)")
        timings.wrap(gates.locks, "take_held", "3 held links waiting?")
        timings.wrap(gates_module, "rate_room", "4 rate window read")
        timings.wrap(gates_module, "spend", "4 rate window write")
        timings.wrap(gates_module, "waiting", "6 queue count")
        timings.wrap(gates_module, "waiting_for", "5 the user's queued jobs")
        timings.wrap(gates_module, "find_links", "(not a gate) find_links")

        def link(update_id: int, n: int) -> str:
            return f"https://www.youtube.com/watch?v={update_id:011d}"

        take = gates_module.link_jobs.take
        gates_module.link_jobs.take = lambda req, message_id, urls: None
        update_id = await run_mix(router, "gates", args.updates, args.users, link, 1_000_000, drain=False)
        gates_module.link_jobs.take = take
        print("per gate (the gates mix; router.route also remembers the user and commits):")
        timings.report()
        update_id = await run_mix(router, "links", args.updates // 4, args.users, link, update_id, drain=True)
        update_id = await run_mix(router, "chatter", args.updates, args.users, lambda u, n: f"hello {n}", update_id,
                                  drain=False)  # fmt: skip
        update_id = await run_mix(router, "fill", 500, args.users, link, update_id, drain=False)
        print(f"(queue now {limits.waiting(router.db)} waiting: QUEUE_MAX)")
        await run_mix(router, "refused", args.updates // 4, args.users, link, update_id, drain=False)
        print(f"getChatMember during the mixes: {sum(port.calls.values()) - asked}")
        router.db.close()


if __name__ == "__main__":
    trio.run(main)
