"""The admin panel: /health, /circuit, /cleanup and /reset_stats, for admins only, each
answered in the admin's language. Anyone else is refused politely, and the attempt is logged and
kept in `admin_audit` (as are /cleanup and /reset_stats).

/health needs the monitor's process table, an RPC, while handlers run inside the update's
transaction and must not await: `prepare_steps` gives the router a step that asks the monitor
before the transaction, with a deadline of HEALTH_RPC_TIMEOUT, and hands the answer (or nothing:
"monitor unreachable") to the handler. Without the step /health says the monitor is unreachable.

/stats is in `gateway.admin.stats`.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from core import spool
from core.breakers import states as circuit_states
from core.callback_data import Callback
from core.config import Settings
from core.payloads import Button, Edit
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import digits, text
from gateway.context import Request
from gateway.router import MessageHandler, Prepare
from ipc.channels import RpcClient, RpcTimeout

log = logging.getLogger("gateway.admin.panel")

HEALTH_RPC_TIMEOUT = 1.0  # seconds /health waits for the monitor; the update loop waits as long
ACTION_PANEL = "ap"  # callback data: ap|<op>
OP_RESET, OP_KEEP = "rs", "keep"
DETAIL_CHARS = 500  # a command's text kept in the audit log is cut to this
MB, GB = 1_000_000, 1_000_000_000
MARK_OK, MARK_BAD = "✅", "⚠️"
CIRCUIT_MARKS = {"closed": "🟢", "half_open": "🟡", "open": "🔴"}
PER_USER_COUNTERS = ("requests_total", "downloads_ok", "downloads_failed", "bytes_sent")


def audit(req: Request, action: str, detail: str) -> None:
    """Who did what, when: one `admin_audit` row, in the update's transaction."""
    req.db.execute(
        "INSERT INTO admin_audit (admin_id, action, detail, at) VALUES (?, ?, ?, ?)",
        [req.user.id, action, detail[:DETAIL_CHARS], time.time()],
    )


def refuse(req: Request, msg: IncomingMessage) -> None:
    log.warning("user %d is no admin and tried %r; refused", req.user.id, msg.text[:80])
    audit(req, "denied", msg.text)
    req.reply(req.t("panel_admin_only"))


def admins_only(handler: MessageHandler) -> MessageHandler:
    def guarded(req: Request, msg: IncomingMessage) -> None:
        if req.user.is_admin:
            handler(req, msg)
        else:
            refuse(req, msg)

    return guarded


def size_text(lang: str, size: float) -> str:
    if size >= GB:
        return text(lang, "panel_gb", size=digits(lang, f"{size / GB:.1f}"))
    return text(lang, "panel_mb", size=digits(lang, f"{size / MB:.1f}"))


# ---- /health ------------------------------------------------------------------------------------


def prepare_steps(settings: Settings, rpc: RpcClient) -> dict[str, Prepare]:
    """The router's steps before the transaction: /health asks the monitor first."""

    async def health_step(msg: IncomingMessage) -> MessageHandler | None:
        if msg.sender.id not in settings.admin_ids:
            return None  # the handler refuses; nobody else makes the gateway wait
        try:
            reply = await rpc.call("health", timeout=HEALTH_RPC_TIMEOUT)
        except RpcTimeout as exc:
            log.warning("/health: %s", exc)
            return None
        if not reply.ok:
            log.warning("/health: the monitor answered an error: %s", reply.error)
            return None
        return partial(health, snapshot=reply.result)

    return {"/health": health_step}


def health(req: Request, msg: IncomingMessage, snapshot: dict[str, Any] | None = None) -> None:
    if not req.user.is_admin:
        refuse(req, msg)
        return
    if snapshot is None:
        table = req.t("panel_monitor_unreachable", seconds=HEALTH_RPC_TIMEOUT)
    else:
        table = "\n".join(_process_line(req, p) for p in snapshot.get("processes", [])) or req.t("panel_none_yet")
    settings = req.settings
    db_bytes = sum(p.stat().st_size for p in settings.data_dir.glob(settings.db_path.name + "*") if p.is_file())
    req.reply(
        req.t(
            "panel_health",
            processes=table,
            disk=round(spool.disk_free_pct(settings.data_dir), 1),
            spool=size_text(req.lang, spool.usage_bytes(settings.spool_dir)),
            database=size_text(req.lang, db_bytes),
        )
    )


def _process_line(req: Request, p: dict[str, Any]) -> str:
    age = p.get("heartbeat_age")
    fresh = p.get("state") == "ready" and (age is None or age < req.settings.heartbeat_timeout)
    beat = req.t("panel_heartbeat", age=round(float(age), 1)) if age is not None else ""
    return req.t(
        "panel_process",
        mark=MARK_OK if fresh else MARK_BAD,
        name=p.get("name", "?"),
        state=p.get("state", "?"),
        pid=int(p.get("pid") or 0),
        restarts=int(p.get("restarts") or 0),
        heartbeat=beat,
    )


# ---- /circuit -----------------------------------------------------------------------------------


def circuit(req: Request, msg: IncomingMessage) -> None:
    views = circuit_states(req.db, req.settings)
    if not views:
        req.reply(req.t("panel_circuits_none"))
        return
    lines = [req.t("panel_circuits")]
    for v in views:
        retry = req.t("panel_circuit_retry", seconds=round(v.retry_in)) if v.retry_in else ""
        probe = req.t("panel_circuit_probe", job=v.probe_job) if v.probe_job is not None else ""
        lines.append(
            req.t(
                "panel_circuit",
                mark=CIRCUIT_MARKS.get(str(v.state), MARK_BAD),
                platform=v.platform,
                state=req.t(f"panel_circuit_{v.state}"),
                failures=v.failures,
                retry=retry,
                probe=probe,
            )
        )
    req.reply("\n".join(lines))


# ---- /cleanup -----------------------------------------------------------------------------------


def cleanup(req: Request, msg: IncomingMessage) -> None:
    before = spool.usage_bytes(req.settings.spool_dir)
    removed = spool.sweep(req.db, req.settings)
    after = spool.usage_bytes(req.settings.spool_dir)
    audit(req, "cleanup", f"{removed} spool folder(s), {before - after} bytes")
    log.info("/cleanup by admin %d: %d spool folder(s) removed, %d bytes freed", req.user.id, removed, before - after)
    req.reply(
        req.t(
            "panel_cleanup",
            count=removed,
            freed=size_text(req.lang, max(0, before - after)),
            spool=size_text(req.lang, after),
        )
    )


# ---- /reset_stats -------------------------------------------------------------------------------


def reset_stats(req: Request, msg: IncomingMessage) -> None:
    count = req.db.execute("SELECT count(*) FROM users").fetchone()[0]
    keyboard = [[
        Button(text=req.t("panel_button_reset"), data=req.codec.encode(ACTION_PANEL, OP_RESET)),
        Button(text=req.t("panel_button_keep"), data=req.codec.encode(ACTION_PANEL, OP_KEEP)),
    ]]  # fmt: skip
    req.reply(req.t("panel_reset_confirm", count=count), keyboard)


def panel_pressed(req: Request, query: CallbackQuery, callback: Callback) -> None:
    if not req.user.is_admin:
        log.warning("user %d is no admin and pressed an admin panel button; refused", req.user.id)
        audit(req, "denied", f"panel button {query.data[:40]}")
        req.answer(query.id, req.t("panel_admin_only"))
        return
    op = callback.str_arg(0)
    if op == OP_RESET:
        zero = ", ".join(f"{column} = 0" for column in PER_USER_COUNTERS)
        count = req.db.execute(f"UPDATE users SET {zero}").rowcount
        audit(req, "reset_stats", f"{count} users")
        log.info("/reset_stats by admin %d: counters of %d users reset", req.user.id, count)
        body = req.t("panel_reset_done", count=count)
    elif op == OP_KEEP:
        body = req.t("panel_reset_kept")
    else:
        req.answer(query.id, req.t("button_expired"))
        return
    req.send(Edit(text=body, message_id=query.message_id))  # the buttons go: a second press is moot
    req.answer(query.id, body)


COMMANDS: dict[str, MessageHandler] = {
    "/health": health,
    "/circuit": admins_only(circuit),
    "/cleanup": admins_only(cleanup),
    "/reset_stats": admins_only(reset_stats),
}
CALLBACKS = {ACTION_PANEL: panel_pressed}
