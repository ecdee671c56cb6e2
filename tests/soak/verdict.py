"""What the soak asserts at the end, once nothing more can happen (`quiet`): the figures it
prints and the promises they must keep.

- every accepted job (a row in `jobs`) ended with exactly one final answer in its user's chat:
  its file, or one clear failure (or cancel) message, and no status left behind;
- at most 1 % of files arrived twice (rounded up), and only after a kill of the uploader sending them;
- no 429 but the forced ones (and the few sends on their way that land in a forced one's hold);
- the spool is empty, and no process of the bot is anything but the supervisor or one of its
  children;
- no traceback, file path or secret in any chat message;
- SQLite's `PRAGMA integrity_check` is `ok` (checked after the stop, by the test).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from core.jobstates import FINAL, JobState
from core.texts import en, fa
from tests.soak.load import Record
from tests.support.bot import BotProcess, buttons
from tests.support.logs import KNOWN_SECRETS
from tests.support.poll import until

QUIET_TIMEOUT_S = 240.0
SPOOL_EMPTY_TIMEOUT_S = 60.0  # the uploader's last removals, then a sweep for a killed downloader's folders
DUPLICATE_SHARE = 0.01
# Sends that may be on their way when a FloodWait is forced, and so land in its hold: the
# uploads (UPLOAD_CONCURRENCY, 3) and a few answers let go in the same instant. More is a bot
# that kept sending after it was told to wait.
IN_FLIGHT_AT_A_FLOOD = 5
FINAL_KEYS = ("error_", "link_refused_", "cancelled")  # the texts a job's last word may be
WORKING_MARKS = ("⏳", "🔎", "⬇️", "⚙️", "🔁", "⬆️", "📃")  # a status still at work
LEAKS = (
    re.compile(r"Traceback|File \"|\w+Error:|\bline \d+, in\b"),  # a stack trace
    re.compile(r"(?<![\w:/.])/(?:tmp|home|work|root|var|usr|etc|proc|srv|opt)/"),  # a file path
    re.compile(r"spool/|\.sqlite3|\.py\b"),
)


def _openings(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The fixed start (before any placeholder) of each text under `keys`, in both languages."""
    found = set()
    for texts in (en.TEXTS, fa.TEXTS):
        for key, value in texts.items():
            if key.startswith(keys):
                found.add(value.split("{", 1)[0][:30].strip())
    return tuple(sorted(f for f in found if f))


FINAL_TEXTS = _openings(FINAL_KEYS)


def _outstanding(bot: BotProcess, record: Record) -> dict[str, Any]:
    """What may still change a chat: unhandled messages, unfinished jobs, unsent rows."""
    handled = dict(bot.query("SELECT id, coalesce(last_message_id, 0) FROM users"))
    unread = {u: m for u, m in record.last_message.items() if handled.get(u, 0) < m}
    marks = ",".join("?" * len(FINAL))
    jobs = bot.query(f"SELECT id, state FROM jobs WHERE state NOT IN ({marks})", *FINAL)
    sends = bot.query("SELECT id, kind, state FROM outbox WHERE state IN ('pending', 'sending')")
    return {k: v for k, v in (("unhandled", unread), ("jobs", jobs), ("sends", sends)) if v}


async def quiet(bot: BotProcess, record: Record, timeout: float = QUIET_TIMEOUT_S) -> None:
    """The barrier: every message handled, every job final, nothing left to send."""
    await until(
        "every job over and nothing left to send",
        lambda: not _outstanding(bot, record) or None,
        timeout,
        describe=lambda: f"{_outstanding(bot, record)}\n{bot.log()}",
        interval=0.5,
    )


@dataclass
class Figures:
    jobs: Counter[str] = field(default_factory=Counter)  # top-level jobs by final state
    answers: Counter[int] = field(default_factory=Counter)  # final answers per job: 1 is right
    wrong: list[str] = field(default_factory=list)  # jobs without exactly one answer, described
    files: int = 0
    twice: list[str] = field(default_factory=list)  # files that came more than once, described
    twice_before_a_kill: list[str] = field(default_factory=list)
    status_copies: list[str] = field(default_factory=list)  # statuses a kill sent twice, described
    leaks: list[str] = field(default_factory=list)
    floods: int = 0
    forced_floods: int = 0
    held_floods: int = 0  # refused in a forced one's hold: the sends on their way when it was forced
    spool_left: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"jobs accepted: {sum(self.jobs.values())} {dict(self.jobs)}",
            f"final answers per job: {dict(self.answers)} (jobs without exactly one: {len(self.wrong)})",
            f"files: {self.files}, arrived twice: {len(self.twice)}"
            f" ({100 * len(self.twice) / max(1, self.files):.2f} %), not explained by a kill: "
            f"{len(self.twice_before_a_kill)}",
            f"status messages sent twice by a kill mid-send (the first copy stays): {len(self.status_copies)}",
            f"429s: {self.floods}, forced: {self.forced_floods}, in a forced one's hold: {self.held_floods},"
            f" others: {self.others_floods()}",
            f"spool left: {self.spool_left or 'empty'}",
            f"stray processes: {self.strays or 'none'}",
            f"leaks in chats: {len(self.leaks)}",
        ]

    def others_floods(self) -> int:
        return self.floods - self.forced_floods - self.held_floods

    def allowed_copies(self) -> int:
        """1 % of the files, rounded up (so a short run's one copy is not over it)."""
        return math.ceil(DUPLICATE_SHARE * self.files)

    def broken(self) -> list[str]:
        """Each promise not kept, with what breaks it."""
        out = []
        if self.wrong:
            out.append(f"{len(self.wrong)} job(s) without exactly one final answer: {self.wrong[:10]}")
        if len(self.twice) > self.allowed_copies():
            out.append(f"{len(self.twice)} of {self.files} files arrived twice: {self.twice[:10]}")
        if len(self.status_copies) > self.allowed_copies():
            out.append(f"{len(self.status_copies)} status messages sent twice: {self.status_copies[:10]}")
        if self.twice_before_a_kill:
            out.append(f"files arrived twice with no kill of the uploader sending them: {self.twice_before_a_kill}")
        if self.others_floods():
            out.append(f"{self.others_floods()} 429(s) that were not forced")
        if self.held_floods > IN_FLIGHT_AT_A_FLOOD * self.forced_floods:
            out.append(f"{self.held_floods} sends went into the hold of {self.forced_floods} forced FloodWait(s)")
        if self.spool_left:
            out.append(f"the spool is not empty: {self.spool_left}")
        if self.strays:
            out.append(f"processes that are no child of the supervisor: {self.strays}")
        if self.leaks:
            out.append(f"tracebacks, paths or secrets in chats: {self.leaks[:10]}")
        return out


async def chats(http: httpx.AsyncClient, users: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every bot message of each user's chat, deleted ones included."""
    found = {}
    for user in users:
        response = await http.get(f"/sandbox/users/{user}/chat")
        assert response.status_code == 200, response.text
        found[user] = [m for m in response.json()["messages"] if m["from"] == "bot"]
    return found


def judge_answers(figures: Figures, bot: BotProcess, seen: dict[int, list[dict[str, Any]]], kills: list[float]) -> None:
    """Exactly one final answer per accepted job. A copy that a kill explains is counted apart:
    a file the uploader was killed sending (its row says so) that came again after the kill, and
    a status message whose send the uploader was killed in (its first copy reached Telegram
    unrecorded, so the status removed at the end was the second: the first stays, as it would on
    Telegram)."""
    status_rows = {
        r["id"]: r
        for r in bot.rows(
            "SELECT j.id, o.message_id, o.interrupted, o.sent_at FROM jobs j JOIN outbox o ON o.id = j.status_outbox_id"
        )
    }
    cut_files = {  # jobs with a file the uploader died sending (Telegram may have had it whole)
        r[0] for r in bot.query("SELECT DISTINCT job_id FROM outbox WHERE kind = 'media' AND interrupted > 0")
    }
    for job in bot.rows("SELECT id, user_id, request_message_id, state FROM jobs WHERE parent_id IS NULL"):
        figures.jobs[job["state"]] += 1
        replies = [m for m in seen.get(job["user_id"], []) if m["reply_to_message_id"] == job["request_message_id"]]
        visible = [m for m in replies if not m["deleted"]]
        files = _answers(m for m in visible if m["media"])
        words = [m for m in visible if not m["media"] and (m.get("text") or "").startswith(FINAL_TEXTS)]
        working = [m for m in visible if not m["media"] and (m.get("text") or "").startswith(WORKING_MARKS)]
        for m in _copies_of_the_status(working, status_rows.get(job["id"]), kills):
            working.remove(m)
            figures.status_copies.append(f"job {job['id']}: message {m['message_id']}")
        figures.answers[len(files) + len(words)] += 1
        figures.files += len(files)
        expected = (1, 0) if job["state"] == JobState.DONE else (0, 1)
        if (min(1, len(files)), len(words)) != expected or working:
            texts = [m.get("text") or m.get("caption") for m in visible]
            figures.wrong.append(f"job {job['id']} {job['state']}: {len(files)} file(s), answers {texts}")
        for extra in files[1:]:
            what = f"job {job['id']}: message {extra['message_id']} at {extra['at']:.2f}"
            figures.twice.append(what)
            if job["id"] not in cut_files or not any(at <= extra["at"] for at in kills):
                figures.twice_before_a_kill.append(what)


def _answers(media: Any) -> list[dict[str, Any]]:
    """The file answers: each album once (its first item), each other file on its own."""
    seen: set[str] = set()
    out = []
    for m in media:
        group = m.get("media_group_id")
        if group is None or group not in seen:
            out.append(m)
            seen.add(group or "")
    return out


def _copies_of_the_status(
    working: list[dict[str, Any]], row: dict[str, Any] | None, kills: list[float]
) -> list[dict[str, Any]]:
    """The statuses left in the chat that are a first copy the uploader's kill left unrecorded."""
    if not row or not row["interrupted"]:
        return []
    return [
        m for m in working if m["message_id"] != row["message_id"] and any(at <= (row["sent_at"] or 0) for at in kills)
    ]


def by_kind(bot: BotProcess, record: Record) -> dict[str, dict[str, int]]:
    """How each kind of link ended (e.g. whether the albums came, or failed politely)."""
    kinds = {(s.user_id, s.message_id): s.link.kind for s in record.sent}
    out: dict[str, Counter[str]] = {}
    for job in bot.rows("SELECT user_id, request_message_id, state FROM jobs WHERE parent_id IS NULL"):
        kind = kinds.get((job["user_id"], job["request_message_id"]), "?")
        out.setdefault(kind, Counter())[job["state"]] += 1
    return {kind: dict(states) for kind, states in sorted(out.items())}


def judge_leaks(figures: Figures, seen: dict[int, list[dict[str, Any]]], data_dir: Path) -> None:
    secrets = [*KNOWN_SECRETS, str(data_dir), str(data_dir.resolve())]
    for user, messages in seen.items():
        for m in messages:
            shown = " ".join(str(m.get(k) or "") for k in ("text", "caption", "html"))
            shown += " ".join(b["text"] for b in buttons(m))
            hits = [p.pattern for p in LEAKS if p.search(shown)] + [s for s in secrets if s in shown]
            if hits:
                figures.leaks.append(f"user {user} message {m['message_id']}: {hits} in {shown[:200]!r}")


async def spool_emptied(bot: BotProcess) -> list[str]:
    """The spool once its last folder is gone: the uploader removes a sent job's after its send is
    recorded, the sweeper what a killed downloader left."""
    spool = bot.data_dir / "spool"

    def left() -> list[str]:
        return sorted(str(p.relative_to(spool)) for p in spool.rglob("*")) if spool.exists() else []

    try:
        await until("the spool emptied", lambda: not left() or None, SPOOL_EMPTY_TIMEOUT_S, interval=0.5)
    except AssertionError:
        pass  # reported as a figure
    return left()


def processes_of(data_dir: Path) -> dict[int, psutil.Process]:
    """Every process the bot started, wherever it is now: each child has its own session, and a
    child's own children (ffmpeg) outlive a kill -9 of it as orphans of init; all of them inherit
    DATA_DIR from the supervisor, which names the bot they belong to."""
    wanted = str(data_dir.resolve())
    found = {}
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get("DATA_DIR") == wanted:
                found[p.pid] = p
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def strays(bot: BotProcess) -> list[str]:
    """The bot's processes that are not the supervisor's children (an orphan of a killed child,
    an ffmpeg left running)."""
    found = []
    for pid, p in processes_of(bot.data_dir).items():
        try:
            if p.ppid() != bot.proc.pid:
                found.append(f"{pid} {p.name()} (parent {p.ppid()}): {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return found


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check`'s first line ('ok'), or why the file cannot even be read."""
    try:
        with closing(sqlite3.connect(path)) as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
