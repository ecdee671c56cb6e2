"""A broadcast as both sides see it: the row, its audience, and the admin's status message.

The gateway makes a broadcast (draft -> running on Confirm) and changes its state from the admin's
buttons (pause, resume, cancel); the uploader's runner (`uploader.broadcast`) sends it and ends it
(done). Both render the admin's status message here, so it reads the same whoever wrote it.

The audience: every user who had joined when the broadcast was confirmed (`joined_at <=
started_at`), except the admin who sent it, and who has neither blocked the bot nor been banned
by the time their turn comes. The runner walks them in user-id order from `broadcasts.cursor` (the
last id claimed), so nothing is copied up front and a restart goes on where it stopped; `total`
is the audience counted at Confirm, so users who block the bot or are banned meanwhile are simply
not reached (sent + blocked + failed + unknown can end below total).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.callback_data import CallbackCodec
from core.db import write_tx
from core.payloads import Button, Copy, Keyboard, decode_payload
from core.status import bar, left_text
from core.texts import digits, text

ACTION_BROADCAST = "bc"  # callback data: bc|<broadcast id>|<op>
OP_CONFIRM, OP_DISCARD, OP_PAUSE, OP_RESUME, OP_CANCEL = "go", "no", "p", "r", "c"
ACTIVE_STATES = ("running", "paused")
# The status message's title and the report's, by state or end reason.
TITLE_KEYS = {
    "running": "bc_title_running",
    "paused": "bc_title_paused",
    "cancelled": "bc_title_cancelled",
    "done": "bc_title_done",
    "source_gone": "bc_title_source_gone",
}
REPORT_KEYS = {"done": "bc_report_done", "cancelled": "bc_report_cancelled", "source_gone": "bc_report_source_gone"}
SECONDS_PER_DAY = 86400
END_SOURCE_GONE = "source_gone"  # the admin deleted the message being copied

# Who may receive a broadcast of admin `:admin` confirmed at `:since` (see the module docstring).
AUDIENCE = "blocked_bot = 0 AND banned = 0 AND id != :admin AND joined_at <= :since"

_COLUMNS = (
    "id, admin_id, payload, state, total, sent, failed, blocked, unknown, created_at, started_at, finished_at,"
    " cursor, status_outbox_id, reported_at, end_reason"
)


@dataclass(frozen=True)
class Broadcast:
    id: int
    admin_id: int
    copy: Copy
    state: str
    total: int
    sent: int
    failed: int
    blocked: int
    unknown: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    cursor: int
    status_outbox_id: int | None
    reported_at: float | None
    end_reason: str | None

    @property
    def done(self) -> int:
        """Users whose delivery is over, whatever its outcome."""
        return self.sent + self.failed + self.blocked + self.unknown


def load(db: sqlite_utils.Database, broadcast_id: int) -> Broadcast | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?", [broadcast_id]).fetchone()
    return _from_row(row) if row is not None else None


def load_where(db: sqlite_utils.Database, where: str, params: list[object] | None = None) -> list[Broadcast]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM broadcasts WHERE {where} ORDER BY id", params or []).fetchall()
    return [_from_row(r) for r in rows]


def _from_row(r: tuple[Any, ...]) -> Broadcast:
    copy = decode_payload("copy", r[2])
    assert isinstance(copy, Copy)
    return Broadcast(
        id=r[0], admin_id=r[1], copy=copy, state=r[3], total=r[4], sent=r[5], failed=r[6], blocked=r[7],
        unknown=r[8], created_at=r[9], started_at=r[10], finished_at=r[11], cursor=r[12],
        status_outbox_id=r[13], reported_at=r[14], end_reason=r[15],
    )  # fmt: skip


def prune_deliveries(db: sqlite_utils.Database, keep_days: float, now: float | None = None) -> int:
    """Delete the delivery rows of broadcasts that ended (`finished_at`: done or cancelled) more
    than `keep_days` (OUTBOX_KEEP_DAYS) ago; how many. The broadcast row keeps its counters, so its
    status and report read the same; one still running or paused keeps every row (they are what
    stops a second copy to a user)."""
    cutoff = (time.time() if now is None else now) - keep_days * SECONDS_PER_DAY
    with write_tx(db):
        cursor = db.execute(
            "DELETE FROM broadcast_deliveries WHERE broadcast_id IN (SELECT id FROM broadcasts WHERE finished_at < ?)",
            [cutoff],
        )
    return cursor.rowcount


def audience_size(db: sqlite_utils.Database, admin_id: int, since: float) -> int:
    row = db.execute(f"SELECT count(*) FROM users WHERE {AUDIENCE}", {"admin": admin_id, "since": since}).fetchone()
    return int(row[0])


def admin_language(db: sqlite_utils.Database, admin_id: int, default: str) -> str:
    row = db.execute("SELECT language FROM users WHERE id = ?", [admin_id]).fetchone()
    return (row[0] if row is not None else None) or default


# ---- the admin's status message ---------------------------------------------------------------


def span_text(lang: str, seconds: float) -> str:
    """A duration in words: "45 s", "3 min 5 s", "2 h 10 min"."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return text(lang, "bc_span_hours", hours=hours, minutes=minutes)
    if minutes:
        return text(lang, "bc_span_minutes", minutes=minutes, seconds=secs)
    return text(lang, "bc_span_seconds", seconds=secs)


def status_text(lang: str, b: Broadcast, rate: float | None = None) -> str:
    """The admin's status message: the state, the counts, and (while running) pace and time left."""
    title = text(lang, TITLE_KEYS[b.end_reason or b.state])
    lines = [title, text(lang, "bc_counts", sent=b.sent, blocked=b.blocked, failed=b.failed)]
    if b.unknown:
        lines.append(text(lang, "bc_unknown", unknown=b.unknown))
    if b.state in ACTIVE_STATES:
        total = max(b.total, b.done)
        fraction = b.done / total if total else 1.0
        percent = digits(lang, math.floor(fraction * 100))
        if b.state == "running" and rate:
            left = left_text(lang, max(0, total - b.done) / rate)
            lines.append(
                text(lang, "bc_pace", bar=bar(fraction), percent=percent, done=b.done, total=total,
                     rate=round(rate, 1), left=left)
            )  # fmt: skip
        else:
            lines.append(text(lang, "bc_progress", bar=bar(fraction), percent=percent, done=b.done, total=total))
    return "\n".join(lines)


def status_keyboard(lang: str, codec: CallbackCodec, b: Broadcast) -> Keyboard | None:
    """Pause or resume, and cancel, while it runs; nothing once it is over."""
    if b.state == "draft":
        return [[_button(lang, codec, b.id, "bc_button_confirm", OP_CONFIRM),
                 _button(lang, codec, b.id, "bc_button_discard", OP_DISCARD)]]  # fmt: skip
    if b.state == "running":
        return [[_button(lang, codec, b.id, "bc_button_pause", OP_PAUSE),
                 _button(lang, codec, b.id, "bc_button_cancel", OP_CANCEL)]]  # fmt: skip
    if b.state == "paused":
        return [[_button(lang, codec, b.id, "bc_button_resume", OP_RESUME),
                 _button(lang, codec, b.id, "bc_button_cancel", OP_CANCEL)]]  # fmt: skip
    return None


def _button(lang: str, codec: CallbackCodec, broadcast_id: int, key: str, op: str) -> Button:
    return Button(text=text(lang, key), data=codec.encode(ACTION_BROADCAST, broadcast_id, op))


def report_text(lang: str, b: Broadcast) -> str:
    """The final report: sent, blocked, failed (and unknown), duration; who was not reached."""
    took = (b.finished_at or 0.0) - (b.started_at or b.created_at)
    lines = [
        text(lang, REPORT_KEYS[b.end_reason or b.state]),
        text(lang, "bc_report_sent", sent=b.sent),
        text(lang, "bc_report_blocked", blocked=b.blocked),
        text(lang, "bc_report_failed", failed=b.failed),
    ]
    if b.unknown:
        lines.append(text(lang, "bc_report_unknown", unknown=b.unknown))
    if b.state == "cancelled" and b.total > b.done:
        lines.append(text(lang, "bc_report_not_reached", left=b.total - b.done))
    lines.append(text(lang, "bc_report_duration", duration=span_text(lang, took)))
    return "\n".join(lines)
