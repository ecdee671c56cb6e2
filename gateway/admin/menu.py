"""/admin: one menu of buttons that reaches every admin action.

A button of a command that needs nothing more types it (`gateway.commands.command_button`: the
press runs the command itself, with its gates, refusals and audit). A button of a command that
needs a value (a user id, a job number, a channel) asks for it first: the admin's next message
completes the command (`gateway.admin.steps`).
"""

from __future__ import annotations

from core.callback_data import Callback
from core.payloads import Button, Keyboard
from core.telegram import CallbackQuery, IncomingMessage
from gateway.admin import steps
from gateway.admin.audit import admin_only, admin_only_press
from gateway.commands import command_button
from gateway.context import Request

ACTION_MENU = "am"  # am|a|<command>: ask for the command's value; am|n|0: never mind
OP_ASK = "a"
BUTTONS_PER_ROW = 2
# (command, how it starts): "run" types it at once; "ask" asks for its value first
ENTRIES = (
    ("stats", "run"),
    ("health", "run"),
    ("queue", "run"),
    ("limits", "run"),
    ("user", "ask"),
    ("cancel", "ask"),
    ("ban", "ask"),
    ("unban", "ask"),
    ("audit", "run"),
    ("circuit", "run"),
    ("sponsors", "run"),
    ("addsponsor", "ask"),
    ("delsponsor", "ask"),
    ("maintenance", "run"),
    ("broadcast", "run"),
    ("cleanup", "run"),
    ("reset_stats", "run"),
)
LABEL_KEYS = {  # each entry's button
    "stats": "ap_menu_stats",
    "health": "ap_menu_health",
    "queue": "ap_menu_queue",
    "limits": "ap_menu_limits",
    "user": "ap_menu_user",
    "cancel": "ap_menu_cancel",
    "ban": "ap_menu_ban",
    "unban": "ap_menu_unban",
    "audit": "ap_menu_audit",
    "circuit": "ap_menu_circuit",
    "sponsors": "ap_menu_sponsors",
    "addsponsor": "ap_menu_addsponsor",
    "delsponsor": "ap_menu_delsponsor",
    "maintenance": "ap_menu_maintenance",
    "broadcast": "ap_menu_broadcast",
    "cleanup": "ap_menu_cleanup",
    "reset_stats": "ap_menu_reset_stats",
}
ASK_KEYS = {  # what an "ask" entry asks for
    "user": "ap_ask_user",
    "cancel": "ap_ask_cancel",
    "ban": "ap_ask_ban",
    "unban": "ap_ask_unban",
    "addsponsor": "ap_ask_addsponsor",
    "delsponsor": "ap_ask_delsponsor",
}
ASKED = {name for name, how in ENTRIES if how == "ask"}


def keyboard(req: Request) -> Keyboard:
    buttons = []
    for name, how in ENTRIES:
        label = req.t(LABEL_KEYS[name])
        if how == "run":
            buttons.append(command_button(req.codec, label, name))
        else:
            buttons.append(Button(text=label, data=req.codec.encode(ACTION_MENU, OP_ASK, name)))
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def admin_menu(req: Request, msg: IncomingMessage) -> None:
    req.reply(req.t("ap_menu"), keyboard(req))


def pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    op, name = callback.str_arg(0), callback.str_arg(1)
    if op == steps.NO:
        steps.stop_pressed(req, query)
    elif op == OP_ASK and name in ASKED:
        steps.ask_value(req, f"/{name}")
        req.reply(req.t(ASK_KEYS[name]), [[steps.stop_button(req, ACTION_MENU)]])
        req.answer(query.id)
    else:
        req.answer(query.id, req.t("button_expired"))


COMMANDS = {"/admin": admin_only(admin_menu)}
CALLBACKS = {ACTION_MENU: admin_only_press(pressed)}
