"""/broadcast: an admin replies to any message with it; the bot asks "Send to N users?"; the
buttons confirm or drop it, then pause, resume and cancel it.

The gateway writes only the broadcast's state and the admin's status message (one message: the
confirmation becomes the progress and then the final state). The uploader's runner
(`uploader.broadcast`) sends the copies, sees a state change within a second, and writes the
progress and the final report. One broadcast is under way (running or paused) at a time.
Every step is in `admin_audit`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core import outbox
from core.broadcasts import (
    ACTION_BROADCAST,
    ACTIVE_STATES,
    OP_CANCEL,
    OP_CONFIRM,
    OP_DISCARD,
    OP_PAUSE,
    OP_RESUME,
    Broadcast,
    audience_size,
    load,
    load_where,
    status_keyboard,
    status_text,
)
from core.callback_data import Callback
from core.logs import uid
from core.payloads import Copy, encode_payload
from core.telegram import CallbackQuery, IncomingMessage
from gateway.admin.panel import audit, refuse
from gateway.context import Request

log = logging.getLogger("gateway.admin.broadcast")


def broadcast(req: Request, msg: IncomingMessage) -> None:
    if not req.user.is_admin:
        refuse(req, msg)
        return
    if msg.reply_to_message_id is None:
        req.reply(req.t("bc_how"))
        return
    busy = _under_way(req)
    if busy is not None:
        req.reply(req.t("bc_busy", id=busy.id))
        return
    now = time.time()
    count = audience_size(req.db, req.user.id, now)
    if not count:
        req.reply(req.t("bc_nobody"))
        return
    copy = Copy(from_chat_id=req.chat_id, message_id=msg.reply_to_message_id)
    broadcast_id = int(
        req.db.execute(
            "INSERT INTO broadcasts (admin_id, payload, state, total, created_at, updated_at)"
            " VALUES (?, ?, 'draft', ?, ?, ?)",
            [req.user.id, encode_payload(copy), count, now, now],
        ).lastrowid
        or 0
    )
    draft = load(req.db, broadcast_id)
    assert draft is not None
    item = req.reply(req.t("bc_confirm", count=count), status_keyboard(req.lang, req.codec, draft))
    req.db.execute("UPDATE broadcasts SET status_outbox_id = ? WHERE id = ?", [item, broadcast_id])
    audit(req, "broadcast_draft", f"broadcast {broadcast_id}: message {copy.message_id}, {count} users")
    log.info("broadcast %d drafted by admin %s: %d users", broadcast_id, uid(req.user.id), count)


def pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    if not req.user.is_admin:
        log.warning("user %s is no admin and pressed a broadcast button; refused", uid(req.user.id))
        audit(req, "denied", f"broadcast button {query.data[:40]}")
        req.answer(query.id, req.t("panel_admin_only"))
        return
    broadcast_id, op = callback.int_arg(0), callback.str_arg(1)
    b = load(req.db, broadcast_id) if broadcast_id is not None else None
    step = STEPS.get(op or "")
    if b is None or step is None or b.state not in step[0] or b.admin_id != req.user.id:
        req.answer(query.id, req.t("button_expired"))
        return
    step[1](req, query, b)


def _confirm(req: Request, query: CallbackQuery, b: Broadcast) -> None:
    busy = _under_way(req)
    if busy is not None:
        req.answer(query.id, req.t("bc_busy", id=busy.id), alert=True)
        return
    now = time.time()
    total = audience_size(req.db, b.admin_id, now)  # the audience as of now: who joined meanwhile too
    after = _move(req, b, "running", started_at=now, total=total)
    audit(req, "broadcast_start", f"broadcast {b.id}: {total} users")
    log.info("broadcast %d started by admin %s: %d users", b.id, uid(req.user.id), total)
    req.answer(query.id, req.t("bc_started"))
    _show(req, after)


def _discard(req: Request, query: CallbackQuery, b: Broadcast) -> None:
    now = time.time()
    _move(req, b, "cancelled", finished_at=now, reported_at=now)  # nothing was sent: nothing to report
    audit(req, "broadcast_drop", f"broadcast {b.id}")
    req.answer(query.id, req.t("bc_dropped"))
    if b.status_outbox_id is not None:
        req.notice(
            outbox.change_message(
                req.db, b.status_outbox_id, b.admin_id, req.t("bc_dropped"), None, priority=outbox.PRIORITY_ANSWER
            )
        )


def _pause(req: Request, query: CallbackQuery, b: Broadcast) -> None:
    _changed(req, query, b, "paused", "broadcast_pause", "bc_paused")


def _resume(req: Request, query: CallbackQuery, b: Broadcast) -> None:
    _changed(req, query, b, "running", "broadcast_resume", "bc_resumed")


def _cancel(req: Request, query: CallbackQuery, b: Broadcast) -> None:
    _changed(req, query, b, "cancelled", "broadcast_cancel", "bc_cancelled", finished_at=time.time())


def _changed(
    req: Request, query: CallbackQuery, b: Broadcast, state: str, action: str, toast: str, **columns: float
) -> None:
    after = _move(req, b, state, **columns)
    audit(req, action, f"broadcast {b.id}: {b.sent} sent, {b.blocked} blocked, {b.failed} failed so far")
    log.info("broadcast %d %s by admin %s", b.id, state, uid(req.user.id))
    req.answer(query.id, req.t(toast))
    _show(req, after)


def _move(req: Request, b: Broadcast, state: str, **columns: float) -> Broadcast:
    """Set the state (the row was checked to be in the state the button was made for)."""
    sets = "".join(f", {name} = :{name}" for name in columns)
    req.db.execute(
        f"UPDATE broadcasts SET state = :state, updated_at = :now{sets} WHERE id = :id AND state = :was",
        {"state": state, "now": time.time(), "id": b.id, "was": b.state, **columns},
    )
    after = load(req.db, b.id)
    assert after is not None
    return after


def _show(req: Request, b: Broadcast) -> None:
    """The status message shows the new state and its buttons at once (the runner's next edit
    follows while it runs); a state change is never thinned, unlike the progress edits."""
    if b.status_outbox_id is None:
        return
    req.notice(
        outbox.change_message(
            req.db,
            b.status_outbox_id,
            b.admin_id,
            status_text(req.lang, b),
            status_keyboard(req.lang, req.codec, b),
            priority=outbox.PRIORITY_ANSWER,
            role=outbox.ROLE_STATUS,
        )
    )


def _under_way(req: Request) -> Broadcast | None:
    busy = load_where(req.db, f"state IN {ACTIVE_STATES!r}")
    return busy[0] if busy else None


Step = Callable[[Request, CallbackQuery, Broadcast], None]
# op -> (the states its button was made for, what it does)
STEPS: dict[str, tuple[tuple[str, ...], Step]] = {
    OP_CONFIRM: (("draft",), _confirm),
    OP_DISCARD: (("draft",), _discard),
    OP_PAUSE: (("running",), _pause),
    OP_RESUME: (("paused",), _resume),
    OP_CANCEL: (ACTIVE_STATES, _cancel),
}
COMMANDS = {"/broadcast": broadcast}
CALLBACKS = {ACTION_BROADCAST: pressed}
