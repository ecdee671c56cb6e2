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

from bench.bench_pipeline import cpu_seconds, pct
from bench.loadgen import Poster
from downloader.store import DB_NAME as DOWNLOADER_DB
from tests.support.bot import BotProcess
from tests.support.journey import UNFINISHED_SENDS

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
CACHED_UP_TO, COMMANDS_UP_TO = 0.6, 0.85  # the mix: fresh links, cached links up to 60 %, commands, chatter
FRESH_BYTES = 20_000
POST_CONNECTIONS = 64  # the load generator's kept-alive sockets to the sandbox
CHAT_READS_AT_ONCE = 16
ANSWER_DEADLINE_S = 120.0  # after the load, the bot must have answered everything within this
POLL_S = 0.5
KILL_WAIT_S = 10.0

Sent = dict[int, dict[int, str]]  # user -> their message id -> its kind


@dataclass(frozen=True)
class Answer:
    """A user's message and the bot's first answer to it (times on the sandbox's clock)."""

    kind: str
    user: int
    asked_at: float
    answered_at: float
    message_id: int  # the answer's

    @property
    def took(self) -> float:
        return self.answered_at - self.asked_at


@dataclass
class Figures:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered message
    gateway: list[float] = field(default_factory=list)  # seconds from a message to its answer's row
    unanswered: list[tuple[int, int]] = field(default_factory=list)  # (user, message id)
    locked: list[str] = field(default_factory=list)  # log lines that say "database is locked"
    integrity: dict[str, str] = field(default_factory=dict)  # database file -> integrity_check
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds during the load
    by_second: dict[int, list[float]] = field(default_factory=dict)  # second of the load -> latencies
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # kind of message -> latencies

    def __str__(self) -> str:
        return (
            f"{self.sent} messages, {len(self.latencies)} answered; the gateway's update latency (a message to "
            f"its answer's row) p50 {ms(self.gateway, 50)}, p99 {ms(self.gateway, 99)}; a message to its answer "
            f"in the chat p50 {ms(self.latencies, 50)}, p99 {ms(self.latencies, 99)}, max {ms(self.latencies, 100)}; "
            f'{len(self.locked)} "database is locked"; integrity_check after kill -9: '
            + ", ".join(f"{name} {result}" for name, result in sorted(self.integrity.items()))
        )


def ms(values: list[float], q: float) -> str:
    """The q-th percentile of `values` (seconds) in ms, as printed."""
    return f"{pct(values, q) * 1000:.0f} ms" if values else "-"


def message_for(bot: BotProcess, rng: random.Random, user: int, n: int, fresh_share: float) -> tuple[str, str]:
    """(kind, text) of a user's n-th message."""
    roll = rng.random()
    if roll < fresh_share:
        return "fresh link", f"{bot.url}/media/blob?size={FRESH_BYTES}&dbload={user}-{n}"
    if roll < CACHED_UP_TO:
        return "cached link", f"{bot.url}/media/blob?size={FRESH_BYTES}&dbcached={rng.randrange(CACHED_MEDIA)}"
    if roll < COMMANDS_UP_TO:
        command = COMMANDS[n % len(COMMANDS)]
        return command, command
    return "chatter", CHATTER


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
) -> Sent:  # fmt: skip
    """Every user writes every `interval` s for `seconds` (from a random first moment)."""
    sent: Sent = {}
    rng = random.Random(seed)

    async def user_loop(user: int, first: float, rng: random.Random) -> None:
        sent[user] = {}
        for n in range(math.ceil((seconds - first) / interval)):  # at first, first + interval, ...
            await trio.sleep_until(began + first + n * interval)
            kind, text = message_for(bot, rng, user, n, fresh_share)
            answer = await poster.post(f"/sandbox/users/{user}/messages", {"text": text, "language_code": "fa"})
            sent[user][int(answer["message_id"])] = kind

    began = trio.current_time()
    async with trio.open_nursery() as nursery:
        for user in users:
            nursery.start_soon(user_loop, user, rng.uniform(0, interval), random.Random(rng.random()))
    return sent


def first_answers(user: int, chat: list[dict[str, Any]], asked: dict[int, str]) -> tuple[list[Answer], list[int]]:
    """Each asked message with the bot's first message after it that answers it (a reply to it,
    or one that replies to nothing); the asked messages not answered."""
    at = {m["message_id"]: m["at"] for m in chat if m["from"] == "user"}
    bots = sorted((m for m in chat if m["from"] == "bot"), key=lambda m: m["message_id"])
    latencies: list[Answer] = []
    missing: list[int] = []
    for mid, kind in asked.items():
        answer = next((m for m in bots if m["message_id"] > mid and m.get("reply_to_message_id") in (mid, None)), None)
        if answer is None:
            missing.append(mid)
        else:
            latencies.append(Answer(kind, user, at[mid], answer["at"], answer["message_id"]))
    return latencies, missing


async def collect(bot: BotProcess, http: httpx.AsyncClient, sent: Sent, figures: Figures) -> None:
    """Waits until the bot has handled every message and sent everything, then reads each chat
    once (reading chats while the bot answers would load the sandbox the bot shares two cores with)."""
    with trio.move_on_after(ANSWER_DEADLINE_S):
        while unsettled(bot, sent):
            await trio.sleep(POLL_S)
    answered, figures.unanswered = await read_chats(http, sent)
    figures.latencies = [a.took for a in answered]
    began = min((a.asked_at for a in answered), default=0.0)
    for a in answered:
        figures.by_second.setdefault(int(a.asked_at - began), []).append(a.took)
        figures.by_kind.setdefault(a.kind, []).append(a.took)
    # The answer's outbox row is written in the transaction that handled the user's message: its
    # creation is when the gateway was done with the update (the same machine's clock).
    marks = ",".join("?" * len(sent))
    rows = bot.query(f"SELECT chat_id, message_id, created_at FROM outbox WHERE chat_id IN ({marks})", *sent)
    made = {(chat, mid): created for chat, mid, created in rows if mid is not None}
    figures.gateway = [made[a.user, a.message_id] - a.asked_at for a in answered if (a.user, a.message_id) in made]


def unsettled(bot: BotProcess, sent: Sent) -> int:
    """Users whose messages are not all handled, or whose chat still has a send or a job to come."""
    last = {user: max(ids) for user, ids in sent.items() if ids}
    marks = ",".join("?" * len(last))
    handled = dict(bot.query(f"SELECT id, last_message_id FROM users WHERE id IN ({marks})", *last))
    behind = sum(1 for user, mid in last.items() if handled.get(user, 0) < mid)
    [(busy,)] = bot.query(
        f"SELECT count(DISTINCT chat_id) FROM outbox WHERE chat_id IN ({marks}) AND state IN (?, ?)",
        *last, *UNFINISHED_SENDS,
    )  # fmt: skip
    return behind + busy


async def read_chats(http: httpx.AsyncClient, asked: Sent) -> tuple[list[Answer], list[tuple[int, int]]]:
    """The latencies of the users' answered messages, and the (user, message) not answered yet."""
    latencies: list[Answer] = []
    missing: list[tuple[int, int]] = []
    limiter = trio.CapacityLimiter(CHAT_READS_AT_ONCE)

    async def read(user: int, ids: dict[int, str]) -> None:
        async with limiter:
            chat = (await http.get(f"/sandbox/users/{user}/chat")).json()["messages"]
        got, lost = first_answers(user, chat, ids)
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
            cpu_before = cpu_seconds(bot)
            sent = await offer(bot, poster, loaders, seconds, interval, fresh_share, seed)
            figures.sent = sum(len(ids) for ids in sent.values())
            await collect(bot, http, sent, figures)
            figures.cpu = {name: spent - cpu_before.get(name, 0.0) for name, spent in cpu_seconds(bot).items()}
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
