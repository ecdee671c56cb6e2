"""The database under load: many users at once against the whole bot, then kill -9 of everything.

Shared by the suite's short run (`tests/e2e/test_db_load.py`) and the full minute
(`bench/bench_db_load.py`). Every user writes every `interval` seconds (from a random first
moment), one message of a mix that touches every table the gateway and the uploader write:

- a link to a media the bot has sent before (a cache hit: a job, an outbox row, a re-send);
- a link to a fresh small file (a job the downloaders fetch, a status message, progress edits),
  at most `fresh_share` of the messages, since two cores download a few dozen files a second;
- /start and /settings (a user row, an answer), and Persian chatter (the hint).

A message's latency is from the user's message to the bot's first answer in the chat, both on the
sandbox's clock: the gateway's update latency as a user sees it (the sender, with Telegram's
limits off on both sides, adds a send).
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import trio

from bench.loadgen import Poster
from downloader.store import DB_NAME as DOWNLOADER_DB
from tests.support.bot import BotProcess

# Telegram's limits off on both sides: the sandbox enforces none, and the bot's own send budget is
# opened wide, so that what waits is the bot's own work (and its database), not a rate limit.
ENV = {
    "SANDBOX_LIMITS": "0",
    "TG_GLOBAL_RATE": "1000",
    "TG_CHAT_RATE": "100",
    "TG_CHAT_BURST": "100",
    "NOTICE_INTERVAL": "0",  # every chatter gets its hint: every message has an answer to time
    "LOG_LEVEL": "info",
}
LOCKED = re.compile(r"database is locked|database table is locked", re.IGNORECASE)
CHATTER = "سلام، این ربات چطور کار می‌کند؟ 🙏"
COMMANDS = ("/start", "/settings")
BOT_DB = "bot.sqlite3"  # Settings.db_path's name
CACHED_MEDIA = 20  # distinct media sent once before the load, then asked for again and again
FRESH_BYTES = 20_000
POST_CONNECTIONS = 64  # the load generator's kept-alive sockets to the sandbox
CHAT_READS_AT_ONCE = 16
ANSWER_DEADLINE_S = 120.0  # after the load, every message must have its first answer within this
POLL_S = 0.5
KILL_WAIT_S = 10.0


@dataclass
class Figures:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered message
    unanswered: list[tuple[int, int]] = field(default_factory=list)  # (user, message id)
    locked: list[str] = field(default_factory=list)  # log lines that say "database is locked"
    integrity: dict[str, str] = field(default_factory=dict)  # database file -> integrity_check

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")

    def __str__(self) -> str:
        return (
            f"{self.sent} messages, {len(self.latencies)} answered: message to first answer p50 "
            f"{self.p(50) * 1000:.0f} ms, p99 {self.p(99) * 1000:.0f} ms, max {self.p(100) * 1000:.0f} ms; "
            f'{len(self.locked)} "database is locked"; integrity_check after kill -9: '
            + ", ".join(f"{name} {result}" for name, result in sorted(self.integrity.items()))
        )


def message_for(bot: BotProcess, rng: random.Random, user: int, n: int, fresh_share: float) -> str:
    roll = rng.random()
    if roll < fresh_share:
        return f"{bot.url}/media/blob?size={FRESH_BYTES}&dbload={user}-{n}"
    if roll < 0.6:
        return f"{bot.url}/media/blob?size={FRESH_BYTES}&dbcached={rng.randrange(CACHED_MEDIA)}"
    if roll < 0.85:
        return COMMANDS[n % len(COMMANDS)]
    return CHATTER


async def warm_cache(bot: BotProcess, http: httpx.AsyncClient, poster: Poster, first_user: int) -> None:
    """Each cached medium is fetched once, by a user of its own, before the load."""
    for i in range(CACHED_MEDIA):
        text = f"{bot.url}/media/blob?size={FRESH_BYTES}&dbcached={i}"
        await poster.post(f"/sandbox/users/{first_user + i}/messages", {"text": text, "language_code": "fa"})
    with trio.fail_after(ANSWER_DEADLINE_S):
        while True:
            [(done,)] = bot.query("SELECT count(*) FROM jobs WHERE state = 'done' AND user_id >= ?", first_user)
            if done >= CACHED_MEDIA:
                return
            await trio.sleep(POLL_S)


async def offer(
    bot: BotProcess, poster: Poster, users: Iterable[int], seconds: float, interval: float, fresh_share: float,
    seed: int,
) -> dict[int, list[int]]:  # fmt: skip
    """Every user writes every `interval` s for `seconds` (from a random first moment): their message ids."""
    sent: dict[int, list[int]] = {}
    rng = random.Random(seed)

    async def user_loop(user: int, first: float, rng: random.Random) -> None:
        sent[user] = []
        for n in range(math.ceil((seconds - first) / interval)):  # at first, first + interval, ...
            await trio.sleep_until(began + first + n * interval)
            text = message_for(bot, rng, user, n, fresh_share)
            answer = await poster.post(f"/sandbox/users/{user}/messages", {"text": text, "language_code": "fa"})
            sent[user].append(int(answer["message_id"]))

    began = trio.current_time()
    async with trio.open_nursery() as nursery:
        for user in users:
            nursery.start_soon(user_loop, user, rng.uniform(0, interval), random.Random(rng.random()))
    return sent


def first_answers(chat: list[dict[str, Any]], asked: list[int]) -> tuple[list[float], list[int]]:
    """Seconds from each asked message to the bot's first message after it that answers it (a
    reply to it, or a message that replies to nothing); the asked messages with no answer yet."""
    at = {m["message_id"]: m["at"] for m in chat if m["from"] == "user"}
    bots = sorted((m for m in chat if m["from"] == "bot"), key=lambda m: m["message_id"])
    latencies, missing = [], []
    for mid in asked:
        answer = next((m for m in bots if m["message_id"] > mid and m.get("reply_to_message_id") in (mid, None)), None)
        if answer is None:
            missing.append(mid)
        else:
            latencies.append(answer["at"] - at[mid])
    return latencies, missing


async def collect(http: httpx.AsyncClient, sent: dict[int, list[int]], figures: Figures) -> None:
    """Waits until every message has its first answer (or ANSWER_DEADLINE_S), then reads them."""
    pending = dict(sent)
    deadline = trio.current_time() + ANSWER_DEADLINE_S
    while True:
        latencies, missing = await read_chats(http, pending)
        figures.latencies += latencies
        if not missing or trio.current_time() > deadline:
            figures.unanswered = missing
            return
        pending = {}
        for user, mid in missing:
            pending.setdefault(user, []).append(mid)
        await trio.sleep(POLL_S)


async def read_chats(http: httpx.AsyncClient, asked: dict[int, list[int]]) -> tuple[list[float], list[tuple[int, int]]]:
    """The latencies of the users' answered messages, and the (user, message) not answered yet."""
    latencies: list[float] = []
    missing: list[tuple[int, int]] = []
    limiter = trio.CapacityLimiter(CHAT_READS_AT_ONCE)

    async def read(user: int, ids: list[int]) -> None:
        async with limiter:
            chat = (await http.get(f"/sandbox/users/{user}/chat")).json()["messages"]
        got, lost = first_answers(chat, ids)
        latencies.extend(got)
        missing.extend((user, mid) for mid in lost)

    async with trio.open_nursery() as nursery:
        for user, ids in asked.items():
            nursery.start_soon(read, user, ids)
    return latencies, missing


def locked_lines(bot: BotProcess) -> list[str]:
    """Every log line of every process that says the database was locked."""
    logs = [bot.log_path, *sorted((bot.data_dir / "logs").rglob("*"))]
    found = []
    for path in logs:
        if path.is_file():
            found += [
                f"{path.name}: {line}" for line in path.read_text(errors="replace").splitlines() if LOCKED.search(line)
            ]
    return found


def kill_everything(bot: BotProcess) -> list[int]:
    """kill -9 of the supervisor and every process under it at once (mid-write); their pids."""
    procs = [psutil.Process(bot.proc.pid), *psutil.Process(bot.proc.pid).children(recursive=True)]
    for proc in procs:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, alive = psutil.wait_procs(procs, timeout=KILL_WAIT_S)
    assert not alive, f"still alive after kill -9: {alive}"
    return [p.pid for p in procs]


def integrity(data_dir: Path) -> dict[str, str]:
    """`PRAGMA integrity_check` of the bot's database and the downloaders' (both must exist)."""
    out = {}
    for path in (data_dir / BOT_DB, data_dir / DOWNLOADER_DB):
        assert path.is_file(), f"no database at {path}"
        with closing(sqlite3.connect(path)) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        out[path.relative_to(data_dir).as_posix()] = "; ".join(str(r[0]) for r in rows)
    return out


async def run_load(
    bot: BotProcess, users: int, seconds: float, interval: float, fresh_share: float, seed: int
) -> Figures:
    """The load, every first answer, the logs' locks, then kill -9 of every process (with a last
    burst of writes in flight) and each database's integrity_check."""
    figures = Figures()
    first_user = 700_000
    poster = Poster(bot.url, POST_CONNECTIONS)
    try:
        async with httpx.AsyncClient(base_url=bot.url, timeout=ANSWER_DEADLINE_S) as http:
            await warm_cache(bot, http, poster, first_user)
            loaders = range(first_user + CACHED_MEDIA, first_user + CACHED_MEDIA + users)
            sent = await offer(bot, poster, loaders, seconds, interval, fresh_share, seed)
            figures.sent = sum(len(ids) for ids in sent.values())
            await collect(http, sent, figures)
            figures.locked = locked_lines(bot)
            # The kill lands while the bot writes: a burst of fresh links is on its way in.
            burst_from = first_user + CACHED_MEDIA + users
            async with trio.open_nursery() as nursery:
                nursery.start_soon(burst, bot, range(burst_from, burst_from + users), interval, seed)
                await until_writing(bot, burst_from)
                kill_everything(bot)
                nursery.cancel_scope.cancel()
    finally:
        await poster.aclose()
    figures.integrity = integrity(bot.data_dir)
    return figures


async def burst(bot: BotProcess, users: range, interval: float, seed: int) -> None:
    """Fresh links from `users` until the bot is killed (the posts that fail then are expected)."""
    poster = Poster(bot.url, POST_CONNECTIONS)
    try:
        await offer(bot, poster, users, ANSWER_DEADLINE_S, interval, 1.0, seed)
    except (OSError, RuntimeError, ExceptionGroup):  # the sandbox died with the rest (or answered 5xx)
        pass
    finally:
        with trio.CancelScope(shield=True):
            await poster.aclose()


async def until_writing(bot: BotProcess, burst_from: int) -> None:
    """Returns once jobs of the last burst are in the database (its writes are under way)."""
    with trio.fail_after(ANSWER_DEADLINE_S):
        while not bot.query("SELECT 1 FROM jobs WHERE user_id >= ? LIMIT 1", burst_from):
            await trio.sleep(POLL_S / 10)
