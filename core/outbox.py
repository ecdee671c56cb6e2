"""The outbox: every message the bot sends is first a row here, then the uploader sends it.

Whoever wants something sent (the gateway, the downloaders, the supervisor's alerts) inserts a
row and pushes an `OutboxNotice`; the notice is only a hint, the row is the truth, and the
uploader also finds pending rows on its own (at start and when idle), so nothing is lost when a
notice is.

A job's status message is one row (`jobs.status_outbox_id`); later changes to it are edit rows
that point at it (`target_id`). A new job's status is quiet (ROLE_QUIET_STATUS): due only
STATUS_DELAY_S after the link, it is dropped unsent once a file of its job is ready (a quick job
costs the file alone), and it waits behind the files that wait for the send budget (a busy bot
spends its budget on files, not on statuses that would be deleted a moment later), for at most
QUIET_YIELD_S, so a slow job's status and its cancel button always come. The uploader never lets
a job's file go while its quiet status is on its way, and never sends the status once a file of
the job is ready, going or gone: a status never appears after its file.

Changes coalesce: while the status row itself is still pending
its text is simply replaced, and a pending edit is rewritten rather than followed by another, so
a slow or throttled uploader sends only the latest state and a busy budget thins progress for
free.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from core.db import Database, write_tx
from core.jobstates import FINAL, sql_in
from core.payloads import Delete, Edit, Keyboard, Payload, Text, decode_payload, encode_payload, kind_of

# Lower sends first. A user's answer or status before a file, before an admin alert, before a
# progress edit (the first thing thinned when the budget is tight), before a broadcast, which only
# takes budget nobody else wants.
PRIORITY_ANSWER = 1
PRIORITY_FILE = 2
PRIORITY_STATUS = 3  # a quiet status: after the files, which would make it moot
PRIORITY_ALERT = 4
PRIORITY_PROGRESS = 5
PRIORITY_BROADCAST = 6
PRIORITIES = (
    PRIORITY_ANSWER, PRIORITY_FILE, PRIORITY_STATUS, PRIORITY_ALERT, PRIORITY_PROGRESS, PRIORITY_BROADCAST
)  # fmt: skip
PRIORITY_REPLY = PRIORITY_ANSWER  # the name the first path used

# Roles tell rows of one kind apart where it matters (coalescing, thinning, owners of outcomes).
ROLE_STATUS = "status"  # a job's status message, and edits of it
ROLE_QUIET_STATUS = "quiet_status"  # a job's status message, shown only if the job is slow (above)
ROLE_PROGRESS = "progress"  # an edit showing progress only: may be thinned or dropped
ROLE_FILE = "file"
ROLE_ALERT = "alert"
ROLE_BROADCAST = "broadcast"
_EDIT_ROLES = (ROLE_STATUS, ROLE_PROGRESS)

ERROR_CHARS = 500  # an error kept on a row is cut to this
UPLOAD_LOOKAHEAD = 8  # due uploads looked at per free slot, to find chats that have none going
# How long a due quiet status gives way to files waiting for the send budget: long enough for a
# busy bot's queue of ready files to drain (30 files/s), short enough that a slow job's user sees
# its status (and cancel button) within seconds even when files never stop coming.
QUIET_YIELD_S = 10.0


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    payload: Payload
    priority: int
    attempts: int  # this send's number: the sends begun before it, plus one
    role: str = ""
    job_id: int | None = None
    target_id: int | None = None
    target_message_id: int | None = None  # the message an edit or delete changes
    not_before: float = 0.0  # when it was due (a quiet status gives way to files from then on)

    @property
    def kind(self) -> str:
        return kind_of(self.payload)


def enqueue(
    db: Database,
    chat_id: int,
    payload: Payload,
    *,
    priority: int = PRIORITY_ANSWER,
    role: str = "",
    job_id: int | None = None,
    target_id: int | None = None,
    not_before: float = 0.0,
) -> int:
    """Insert a pending row; call inside the caller's transaction when it belongs to one."""
    cursor = db.execute(
        "INSERT INTO outbox (chat_id, kind, payload, priority, role, state, attempts, not_before, created_at,"
        " target_id, job_id) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
        [
            chat_id,
            kind_of(payload),
            encode_payload(payload),
            priority,
            role,
            not_before,
            time.time(),
            target_id,
            job_id,
        ],
    )
    return int(cursor.lastrowid or 0)


def change_message(
    db: Database,
    target_id: int,
    chat_id: int,
    text: str,
    keyboard: Keyboard | None,
    *,
    priority: int,
    role: str = ROLE_STATUS,
    job_id: int | None = None,
) -> int | None:
    """Make the message of row `target_id` show `text`: rewrite the row while it is pending, else
    rewrite its pending edit, else add one. Returns the row to announce (None: nothing to send)."""
    with write_tx(db):
        row = db.execute("SELECT state, kind, payload FROM outbox WHERE id = ?", [target_id]).fetchone()
        if row is None or row[0] in ("failed", "dropped"):
            return None
        if row[0] == "pending" and row[1] == "text":
            old = decode_payload(row[1], row[2])
            assert isinstance(old, Text)
            new = Text(text=text, keyboard=keyboard, reply_to=old.reply_to, html=old.html)
            db.execute("UPDATE outbox SET payload = ? WHERE id = ?", [encode_payload(new), target_id])
            if priority == PRIORITY_ANSWER:  # an answer (a choice, a failure) is no progress: it shows now
                show_now(db, target_id)
            return target_id
        edit = Edit(text=text, keyboard=keyboard)
        pending = db.execute(
            f"SELECT id, priority FROM outbox WHERE target_id = ? AND state = 'pending' AND kind = 'edit'"
            f" AND role IN {_EDIT_ROLES!r} ORDER BY id DESC LIMIT 1",
            [target_id],
        ).fetchone()
        if pending is not None:
            db.execute(
                "UPDATE outbox SET payload = ?, priority = ?, role = ? WHERE id = ?",
                [encode_payload(edit), min(priority, pending[1]), _stronger(role, priority, pending[1]), pending[0]],
            )
            return int(pending[0])
        return enqueue(db, chat_id, edit, priority=priority, role=role, job_id=job_id, target_id=target_id)


def show_now(db: Database, item_id: int) -> None:
    """A quiet status that must show at once (a question, a failure, a playlist's line): loud."""
    db.execute(
        "UPDATE outbox SET role = ?, priority = ?, not_before = 0 WHERE id = ? AND state = 'pending' AND role = ?",
        [ROLE_STATUS, PRIORITY_ANSWER, item_id, ROLE_QUIET_STATUS],
    )


def _stronger(role: str, priority: int, other_priority: int) -> str:
    """A coalesced edit keeps the role of its most urgent part: a status change is never thinned."""
    return ROLE_STATUS if role == ROLE_STATUS or other_priority < priority else role


def remove_message(db: Database, target_id: int, chat_id: int, *, job_id: int | None = None) -> int | None:
    """The message of row `target_id` is no longer wanted: drop it unsent, or delete it.

    Pending edits of it are dropped either way. Returns the delete row to announce, if any.
    """
    with write_tx(db):
        db.execute("UPDATE outbox SET state = 'dropped' WHERE target_id = ? AND state = 'pending'", [target_id])
        dropped = db.execute(
            "UPDATE outbox SET state = 'dropped' WHERE id = ? AND state = 'pending'", [target_id]
        ).rowcount
        state = db.execute("SELECT state FROM outbox WHERE id = ?", [target_id]).fetchone()
        if dropped or state is None or state[0] in ("failed", "dropped"):  # never shown: nothing to delete
            return None
        # Removing a status the file has made moot is tidying: it goes after the files waiting.
        return enqueue(
            db, chat_id, Delete(), priority=PRIORITY_STATUS, role=ROLE_STATUS, job_id=job_id, target_id=target_id
        )


def moot_statuses(db: Database, items: Collection[tuple[int, int | None]]) -> set[int]:
    """Of (row id, job id) pairs of quiet statuses, the rows whose job has a file waiting or sent:
    the file says it all, the status would only come after it. A file on its way is not enough:
    a big one uploads for long, and its user needs the status (its progress, its cancel button)."""
    jobs = {job_id for _, job_id in items if job_id is not None}
    if not jobs:
        return set()
    with_files = {
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT job_id FROM outbox WHERE job_id IN ({_marks(list(jobs))}) AND kind = 'media'"
            " AND state IN ('pending', 'sent')",
            list(jobs),
        ).fetchall()
    }
    return {item_id for item_id, job_id in items if job_id in with_files}


def drop_progress(db: Database, target_id: int) -> None:
    """Pending progress edits of the message are moot (the file is about to come): drop them."""
    db.execute(
        "UPDATE outbox SET state = 'dropped' WHERE target_id = ? AND state = 'pending' AND role = ?",
        [target_id, ROLE_PROGRESS],
    )


# A row is due when its back-off is over, the message it changes exists (or never will) and no
# earlier change of that message is on its way (two edits in flight may land in either order: the
# chat would keep the older text), and, for a file, the job's earlier parts are out and the job it
# must follow (a playlist's previous entry) is over.
_CLAIM = """
    SELECT o.id, o.chat_id, o.kind, o.payload, o.priority, o.attempts, o.role, o.job_id, o.target_id,
           t.message_id, t.state, o.not_before
    FROM outbox o LEFT JOIN outbox t ON t.id = o.target_id
    WHERE o.state = 'pending' AND o.not_before <= ? {files}
      AND (o.target_id IS NULL OR t.state IN ('sent', 'failed', 'dropped'))
      AND (o.target_id IS NULL OR NOT EXISTS (
            SELECT 1 FROM outbox e WHERE e.target_id = o.target_id AND e.id < o.id AND e.state = 'sending'))
      AND (o.kind != 'media' OR o.job_id IS NULL OR NOT EXISTS (
            SELECT 1 FROM outbox p WHERE p.job_id = o.job_id AND p.kind = 'media' AND p.id < o.id
            AND p.state IN ('pending', 'sending')))
      AND (o.kind != 'media' OR o.job_id IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs j JOIN jobs prev ON prev.parent_id = j.parent_id AND prev.item_index < j.item_index
            WHERE j.id = o.job_id AND prev.state NOT IN {final}))
    ORDER BY o.priority, o.id LIMIT ?
"""


# Uploads (a file from the spool) and everything else (texts, edits, re-sends by file_id, ...) are
# claimed apart: uploads run a few at once, one per chat, while the rest may be many.
_UPLOAD = "o.kind = 'media' AND json_extract(o.payload, '$.path') IS NOT NULL"
_CLAIMS = {
    None: _CLAIM.format(files="", final=sql_in(*FINAL)),
    True: _CLAIM.format(files=f"AND {_UPLOAD}", final=sql_in(*FINAL)),
    False: _CLAIM.format(files=f"AND NOT ({_UPLOAD})", final=sql_in(*FINAL)),
}


def claim(
    db: Database,
    limit: int,
    now: float | None = None,
    *,
    files: bool | None = None,
    busy_chats: Collection[int] = (),
    busy_jobs: Collection[int] = (),
    quiet_limit: int | None = None,
) -> list[OutboxItem]:
    """Take up to `limit` due rows, most urgent first, marking them 'sending': only uploads
    (`files=True`, at most one per chat and none for `busy_chats`, which upload already), or
    everything but uploads (False), or both (None). No file of `busy_jobs` (whose quiet status is
    on its way) is taken. At most `quiet_limit` quiet statuses are taken (they may wait for the
    budget a while: answers must find room beside them).

    An edit or delete whose message was never sent (failed or dropped) is dropped here, and so is
    a quiet status whose job's file is ready (`moot_statuses`).
    """
    now = time.time() if now is None else now
    items: list[OutboxItem] = []
    with write_tx(db):
        rows = db.execute(_CLAIMS[files], [now, limit if not files else limit * UPLOAD_LOOKAHEAD]).fetchall()
        if busy_jobs:
            rows = [r for r in rows if r[2] != "media" or r[7] not in busy_jobs]
        if quiet_limit is not None:
            quiet = [r[0] for r in rows if r[6] == ROLE_QUIET_STATUS][max(0, quiet_limit) :]
            rows = [r for r in rows if r[0] not in quiet]  # the rest stay pending
        if files:  # one upload per chat at a time: a user with ten files does not take every slot
            taken = set(busy_chats)
            chosen: list[Any] = []
            for r in rows:
                if r[1] not in taken and len(chosen) < limit:
                    taken.add(r[1])
                    chosen.append(r)
            rows = chosen
        moot = [r[0] for r in rows if r[8] is not None and r[10] != "sent"]
        moot += moot_statuses(db, [(r[0], r[7]) for r in rows if r[6] == ROLE_QUIET_STATUS])
        live = [r for r in rows if r[0] not in moot]
        if moot:
            db.execute(f"UPDATE outbox SET state = 'dropped' WHERE id IN ({_marks(moot)})", moot)
        if live:
            db.execute(  # claimed, not begun: the send waits for its slot (see `mark_started`)
                f"UPDATE outbox SET state = 'sending', started_at = NULL WHERE id IN ({_marks(live)})",
                [r[0] for r in live],
            )
        for r in live:
            payload = decode_payload(r[2], r[3])
            items.append(OutboxItem(r[0], r[1], payload, r[4], r[5] + 1, r[6], r[7], r[8], r[9], r[11]))
    return items


def _marks(values: list[int] | list[tuple[object, ...]]) -> str:
    return ",".join("?" * len(values))


def mark_started(db: Database, item_id: int) -> None:
    """Right before a claimed row's Telegram call: from now on its outcome is unknown until
    recorded, and a death of the uploader counts against it (`uploader.media.requeue_interrupted`).
    One short write of its own, committed before the call; it counts the attempt too."""
    db.execute("UPDATE outbox SET started_at = ?, attempts = attempts + 1 WHERE id = ?", [time.time(), item_id])


def mark_sent(db: Database, item_id: int, message_id: int | None = None) -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ? WHERE id = ?",
            [time.time(), message_id, item_id],
        )


def mark_failed(db: Database, item_id: int, error: str) -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'failed', sent_at = ?, error = ? WHERE id = ?",
            [time.time(), error[:ERROR_CHARS], item_id],
        )


def mark_dropped(db: Database, item_id: int, why: str) -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'dropped', sent_at = ?, error = ? WHERE id = ?",
            [time.time(), why[:ERROR_CHARS], item_id],
        )


def retry_later(db: Database, item_id: int, delay: float, error: str = "") -> None:
    with write_tx(db):
        db.execute(
            "UPDATE outbox SET state = 'pending', not_before = ?, error = ? WHERE id = ?",
            [time.time() + delay, error[:ERROR_CHARS], item_id],
        )


def next_due(db: Database, now: float | None = None) -> float | None:
    """When the next pending row that is not due yet will be (a quiet status, a retry), if any."""
    now = time.time() if now is None else now
    row = db.execute("SELECT min(not_before) FROM outbox WHERE state = 'pending' AND not_before > ?", [now]).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def prune(db: Database, keep_days: float, now: float | None = None) -> int:
    """Delete finished rows older than `keep_days` (OUTBOX_KEEP_DAYS), except those still pointed at."""
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    old = "state IN ('sent', 'failed', 'dropped') AND sent_at < :cutoff"
    with write_tx(db):
        # A row still pointed at by a row that stays (an edit of it) stays too; the foreign key is
        # checked at the end of the statement, so an old message and its old edits go together.
        cursor = db.execute(
            f"DELETE FROM outbox WHERE {old}"
            f" AND id NOT IN (SELECT target_id FROM outbox WHERE target_id IS NOT NULL AND NOT ({old}))"
            " AND id NOT IN (SELECT status_outbox_id FROM jobs WHERE status_outbox_id IS NOT NULL"
            f" AND state NOT IN {sql_in(*FINAL)})",
            {"cutoff": cutoff},
        )
    return cursor.rowcount
