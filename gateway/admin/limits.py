"""/limits and /setlimit <NAME> <value>: the limits an admin changes while the bot runs.

/setlimit checks the value as `core.config` does at start (a bad one is refused, naming the
rule), keeps it in the database, records it in `admin_audit`, and applies it in the gateway at
once; `publish` then sends the whole set to every other process (`core.runtime_limits`), where
it is in force within moments, without a restart. `/setlimit NAME default` goes back to the
value the bot started with. A setting read only at start is refused with the reason.
"""

from __future__ import annotations

import html
import logging
import re

import sqlite_utils
import trio

from core import runtime_limits
from core.callback_data import Callback
from core.child import ChildContext
from core.config import SettingsError
from core.logs import uid
from core.payloads import Button
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits
from gateway.admin import pages, steps
from gateway.admin.audit import admin_only, admin_only_press, arguments, record
from gateway.context import Request

log = logging.getLogger("gateway.admin.limits")

ACTION_LIMITS = "al"  # al|p|<page>, al|e|<NAME> (asks for the value)
OP_EDIT = "e"
PER_PAGE = 20  # one line a limit: the whole list on one page
EDIT_BUTTONS_PER_ROW = 2


# core.config's parser reasons, in the admin's language (a reason not here is shown as it is)
_RULES = (
    (re.compile(r"must be a whole number"), "ap_rule_whole"),
    (re.compile(r"must be a finite number"), "ap_rule_finite"),
    (re.compile(r"must be a number"), "ap_rule_number"),
    (re.compile(r"must be at least (\S+)"), "ap_rule_at_least"),
    (re.compile(r"must be at most (\S+)"), "ap_rule_at_most"),
)


def rule_text(req: Request, problem: str) -> str:
    for pattern, key in _RULES:
        found = pattern.fullmatch(problem)
        if found:
            return req.t(key, n=digits(req.lang, found.group(1))) if found.groups() else req.t(key)
    return html.escape(problem)


HELP_KEYS = {  # each runtime limit's help line
    "USER_REQUESTS_PER_MIN": "limit_USER_REQUESTS_PER_MIN",
    "GLOBAL_REQUESTS_PER_MIN": "limit_GLOBAL_REQUESTS_PER_MIN",
    "MAX_LINKS_PER_MESSAGE": "limit_MAX_LINKS_PER_MESSAGE",
    "MAX_DURATION_MIN": "limit_MAX_DURATION_MIN",
    "MAX_FILE_MB": "limit_MAX_FILE_MB",
    "JOIN_RECHECK_INTERVAL": "limit_JOIN_RECHECK_INTERVAL",
    "USER_CONCURRENT_DOWNLOADS": "limit_USER_CONCURRENT_DOWNLOADS",
    "USER_QUEUE_MAX": "limit_USER_QUEUE_MAX",
    "QUEUE_MAX": "limit_QUEUE_MAX",
    "JOB_ATTEMPTS": "limit_JOB_ATTEMPTS",
    "SPOOL_MAX_GB": "limit_SPOOL_MAX_GB",
    "PROGRESS_EDIT_INTERVAL": "limit_PROGRESS_EDIT_INTERVAL",
    "NOTICE_INTERVAL": "limit_NOTICE_INTERVAL",
    "MAINTENANCE_NOTICE_INTERVAL": "limit_MAINTENANCE_NOTICE_INTERVAL",
    "ALERT_COOLDOWN": "limit_ALERT_COOLDOWN",
    "ALERT_DISK_FREE_PCT": "limit_ALERT_DISK_FREE_PCT",
    "ALERT_MEMORY_PCT": "limit_ALERT_MEMORY_PCT",
    "ALERT_CPU_PCT": "limit_ALERT_CPU_PCT",
    "ALERT_DOWNLOADS_GB": "limit_ALERT_DOWNLOADS_GB",
}


class LimitsAdmin:
    """The commands and buttons, with the gateway's live limits they change."""

    def __init__(self, db: sqlite_utils.Database, live: runtime_limits.RuntimeLimits) -> None:
        self.db = db
        self.live = live
        self.changed = trio.Event()  # set by /setlimit; `publish` sends the new set on
        self.COMMANDS = {"/limits": admin_only(self.show), "/setlimit": admin_only(self.set_limit)}
        self.CALLBACKS = {ACTION_LIMITS: admin_only_press(self.pressed)}

    # ---- the list ---------------------------------------------------------------------------

    def page(self, req: Request, page: int) -> pages.Page:
        names = list(runtime_limits.RUNTIME)
        first, page, count = pages.window(len(names), page, PER_PAGE)
        lines = [req.t("ap_limits_head")]
        buttons = []
        for name in names[first : first + PER_PAGE]:
            value = getattr(req.settings, runtime_limits.field_name(name))
            mark = "✏️" if name in self.live.overrides else "▫️"
            lines.append(
                req.t(
                    "ap_limits_line",
                    mark=mark,
                    name=name,
                    value=digits(req.lang, runtime_limits.shown(value)),
                    default=digits(req.lang, runtime_limits.shown(self.live.default(name))),
                    help=req.t(HELP_KEYS[name]),
                )
            )
            buttons.append(Button(text=name, data=req.codec.encode(ACTION_LIMITS, OP_EDIT, name)))
        lines.append(req.t("ap_limits_foot"))
        keyboard = [buttons[i : i + EDIT_BUTTONS_PER_ROW] for i in range(0, len(buttons), EDIT_BUTTONS_PER_ROW)]
        keyboard.append(pages.nav(req, ACTION_LIMITS, page, count))
        return pages.Page("\n".join(lines), keyboard)

    def show(self, req: Request, msg: IncomingMessage) -> None:
        pages.show(req, self.page(req, 0))

    def pressed(self, req: Request, query: CallbackQuery, callback: Callback) -> None:
        op = callback.str_arg(0)
        name = callback.str_arg(1) or ""
        if op == pages.OP_PAGE:
            pages.show(req, self.page(req, callback.int_arg(1) or 0), query)
        elif op == OP_EDIT and name in runtime_limits.RUNTIME:
            steps.ask_value(req, "/setlimit", name)
            value = runtime_limits.shown(getattr(req.settings, runtime_limits.field_name(name)))
            default = runtime_limits.shown(self.live.default(name))
            body = req.t("ap_limits_ask", name=name, value=digits(req.lang, value), default=digits(req.lang, default))
            req.reply(body, [[steps.stop_button(req, "am")]])
            req.answer(query.id)
        else:
            req.answer(query.id, req.t("button_expired"))

    # ---- /setlimit ----------------------------------------------------------------------------

    def set_limit(self, req: Request, msg: IncomingMessage) -> None:
        args = arguments(msg)
        if len(args) != 2:
            req.reply(req.t("ap_setlimit_usage"))
            return
        name, raw = args[0].upper(), args[1]
        try:
            value = None if raw.lower() in runtime_limits.RESET_WORDS else runtime_limits.parse(req.settings, name, raw)
        except KeyError:
            req.reply(req.t("ap_setlimit_unknown", name=html.escape(name[:64])))
            return
        except runtime_limits.NotRuntime:
            req.reply(req.t("ap_setlimit_restart", name=name))
            return
        except SettingsError as exc:
            log.info("admin %s: /setlimit %s %r refused: %s", uid(req.user.id), name, raw, exc.problem)
            problem = req.t("ap_rule_got", rule=rule_text(req, exc.problem), value=html.escape(raw[:40]))
            req.reply(req.t("ap_setlimit_bad", name=name, problem=problem))
            return
        if name not in runtime_limits.RUNTIME:  # "default" of a setting that is no runtime one
            req.reply(req.t("ap_setlimit_restart", name=name))
            return
        before = getattr(req.settings, runtime_limits.field_name(name))
        overrides = runtime_limits.load(req.db)
        if value is None:
            overrides.pop(name, None)
        else:
            overrides[name] = runtime_limits.shown(value)
        runtime_limits.save(req.db, overrides, req.user.id)
        self.live.apply(overrides)
        self.changed.set()
        after = getattr(req.settings, runtime_limits.field_name(name))
        change = f"{name} {runtime_limits.shown(before)} -> {runtime_limits.shown(after)}"
        record(req.db, req.user.id, "setlimit", change + (" (default)" if value is None else ""))
        log.warning("admin %s: %s", uid(req.user.id), change)
        req.reply(
            req.t(
                "ap_setlimit_done",
                name=name,
                value=digits(req.lang, runtime_limits.shown(after)),
                before=digits(req.lang, runtime_limits.shown(before)),
                default=digits(req.lang, runtime_limits.shown(self.live.default(name))),
            )
        )

    # ---- to the other processes ----------------------------------------------------------------

    async def publish(self, ctx: ChildContext) -> None:
        """Send the limits to every process (through the supervisor): once at start, and after
        each change, as the database holds them (the truth, were a change's transaction undone)."""
        while True:
            self.changed = trio.Event()  # before the read: a change from now on is sent again
            self.live.apply(runtime_limits.load(self.db))
            await ctx.send_control(self.live.message())
            await self.changed.wait()
