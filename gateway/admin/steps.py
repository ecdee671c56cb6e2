"""An admin's conversations of several steps, kept in `admin_steps` (so a gateway restart loses
none, and two admins never share one), each valid for ADMIN_STEP_TTL seconds:

- a confirmation: "Cancel job #12?" with Yes/No buttons that carry the step's id. Only its admin
  can answer it, once (`take` moves it to done with a guarded update, so a double press, a press
  after a restart or a press by another admin does nothing);
- an awaited value: "Send the user's id". The admin's next message that is no command completes
  the command the step holds (`/user` + "123"), through the router's own table, so it is checked,
  audited and refused exactly as if typed in full.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.logs import uid
from core.payloads import Button, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from gateway.context import Request

log = logging.getLogger("gateway.admin.steps")

CONFIRM, INPUT = "confirm", "input"
YES, NO = "y", "n"
KEEP_DONE_S = 86400.0  # finished steps are kept a day for the log, then deleted

MessageHandler = Callable[[Request, IncomingMessage], None]


@dataclass(frozen=True)
class Step:
    id: int
    admin_id: int
    kind: str
    action: str
    args: dict[str, Any]


def _open(req: Request, kind: str, action: str, args: dict[str, Any]) -> int:
    now = time.time()
    req.db.execute("DELETE FROM admin_steps WHERE expires_at < ?", [now - KEEP_DONE_S])
    return int(
        req.db.execute(
            "INSERT INTO admin_steps (admin_id, kind, action, args, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            [req.user.id, kind, action, json.dumps(args), now, now + req.settings.admin_step_ttl],
        ).lastrowid
        or 0
    )


def ask_confirm(req: Request, action: str, args: dict[str, Any]) -> int:
    """A confirmation awaited from this admin; its id goes into the Yes/No buttons."""
    return _open(req, CONFIRM, action, args)


def confirm_keyboard(req: Request, callback_action: str, step_id: int, yes_key: str = "ap_yes") -> Keyboard:
    return [
        [
            Button(text=req.t(yes_key), data=req.codec.encode(callback_action, YES, step_id)),
            Button(text=req.t("ap_no"), data=req.codec.encode(callback_action, NO, step_id)),
        ]
    ]


def take(req: Request, step_id: int | None, action: str) -> Step | None:
    """The step, if it is this admin's open `action` confirmation; it is done from now on."""
    if step_id is None:
        return None
    row = req.db.execute(
        "SELECT id, admin_id, kind, action, args FROM admin_steps WHERE id = ? AND admin_id = ? AND kind = ?"
        " AND action = ? AND done_at IS NULL AND expires_at > ?",
        [step_id, req.user.id, CONFIRM, action, time.time()],
    ).fetchone()
    if row is None:
        return None
    req.db.execute("UPDATE admin_steps SET done_at = ? WHERE id = ? AND done_at IS NULL", [time.time(), step_id])
    return Step(row[0], row[1], row[2], row[3], json.loads(row[4]))


def ask_value(req: Request, command: str, *words: str) -> int:
    """The admin's next plain message completes `command words... <message>`; any value awaited
    from them before is dropped (one at a time per admin)."""
    req.db.execute(
        "UPDATE admin_steps SET done_at = ? WHERE admin_id = ? AND kind = ? AND done_at IS NULL",
        [time.time(), req.user.id, INPUT],
    )
    return _open(req, INPUT, command, {"words": list(words)})


def stop_asking(req: Request) -> bool:
    """Drop the value awaited from this admin; False if none was."""
    return bool(
        req.db.execute(
            "UPDATE admin_steps SET done_at = ? WHERE admin_id = ? AND kind = ? AND done_at IS NULL",
            [time.time(), req.user.id, INPUT],
        ).rowcount
    )


def awaited(req: Request) -> Step | None:
    row = req.db.execute(
        "SELECT id, admin_id, kind, action, args FROM admin_steps WHERE admin_id = ? AND kind = ?"
        " AND done_at IS NULL AND expires_at > ? ORDER BY id DESC LIMIT 1",
        [req.user.id, INPUT, time.time()],
    ).fetchone()
    return None if row is None else Step(row[0], row[1], row[2], row[3], json.loads(row[4]))


class Inputs:
    """The router's fallback, wrapped: an admin's plain message completes the command awaiting a
    value; everything else goes on to `fallback` (the links). `commands` is the router's table,
    set once the router is built."""

    def __init__(self, fallback: MessageHandler) -> None:
        self.fallback = fallback
        self.commands: Mapping[str, MessageHandler] = {}

    def __call__(self, req: Request, msg: IncomingMessage) -> None:
        step = awaited(req) if req.user.is_admin and msg.text.strip() else None
        handler = self.commands.get(step.action) if step is not None else None
        if step is None or handler is None:
            self.fallback(req, msg)
            return
        req.db.execute("UPDATE admin_steps SET done_at = ? WHERE id = ?", [time.time(), step.id])
        typed = " ".join([step.action, *step.args.get("words", []), msg.text.strip()])
        log.info("admin %s answered step %d: %s", uid(req.user.id), step.id, typed[:80])
        handler(req, dataclasses.replace(msg, text=typed, entities=()))


def stop_button(req: Request, callback_action: str) -> Button:
    """The "never mind" button: drops the value awaited (handled by `stop_pressed`)."""
    return Button(text=req.t("ap_stop"), data=req.codec.encode(callback_action, NO, 0))


def stop_pressed(req: Request, query: CallbackQuery) -> None:
    stop_asking(req)
    req.answer(query.id, req.t("ap_stopped"))
