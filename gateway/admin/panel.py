"""The admin panel: /health, /circuit, /cleanup and /reset_stats, for admins only, each
answered in the admin's language. Anyone else is refused politely, and the attempt is logged and
kept in `admin_audit` (as are /cleanup and /reset_stats).

/health shows the monitor's report (an RPC), while handlers run inside the update's transaction
and must not await: `prepare_steps` gives the router a step that asks the monitor before the
transaction, with a deadline of HEALTH_RPC_TIMEOUT, and hands the report (or nothing: "monitor
unreachable", with the disk, spool and database as the gateway sees them) to the handler.

/stats is in `gateway.admin.stats`.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from core import spool, sweeper
from core.alerts import typed_values
from core.breakers import states as circuit_states
from core.callback_data import Callback
from core.config import Settings
from core.logs import uid
from core.payloads import Button, Edit
from core.telegram import CallbackQuery, IncomingMessage
from core.texts import LANGUAGES, digits, text
from gateway.context import Request
from gateway.router import MessageHandler, Prepare
from ipc.channels import RpcClient, RpcTimeout
from ipc.messages import HOST_JOINED, HOST_LEFT, HOST_LOST, HealthQuery, HealthReport, ProcessHealth

log = logging.getLogger("gateway.admin.panel")

HEALTH_RPC_TIMEOUT = 1.0  # seconds /health waits for the monitor; the update loop waits as long
ACTION_PANEL = "ap"  # callback data: ap|<op>
OP_RESET, OP_KEEP = "rs", "keep"
DETAIL_CHARS = 500  # a command's text kept in the audit log is cut to this
MB, GB = 1_000_000, 1_000_000_000
MARK_OK, MARK_BAD = "✅", "⚠️"
CIRCUIT_MARKS = {"closed": "🟢", "half_open": "🟡", "open": "🔴"}
CIRCUIT_STATE_KEYS = {
    "closed": "panel_circuit_closed",
    "half_open": "panel_circuit_half_open",
    "open": "panel_circuit_open",
}
STATUS_KEYS = {"ok": "panel_status_ok", "degraded": "panel_status_degraded", "down": "panel_status_down"}
HOST_STATE_KEYS = {HOST_JOINED: "panel_host_joined", HOST_LOST: "panel_host_lost", HOST_LEFT: "panel_host_left"}
HOST_INDENT = "    "  # a joined host's processes, under its line
MINUTE_S = 60.0  # a host seen longer ago than this: in minutes and hours
PER_USER_COUNTERS = ("requests_total", "downloads_ok", "downloads_failed", "bytes_sent")


def audit(req: Request, action: str, detail: str) -> None:
    """Who did what, when: one `admin_audit` row, in the update's transaction."""
    req.db.execute(
        "INSERT INTO admin_audit (admin_id, action, detail, at) VALUES (?, ?, ?, ?)",
        [req.user.id, action, detail[:DETAIL_CHARS], time.time()],
    )


def refuse(req: Request, msg: IncomingMessage) -> None:
    log.warning("user %s is no admin and tried %r; refused", uid(req.user.id), msg.text[:80])
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
            reply = await rpc.call(HealthQuery(), timeout=HEALTH_RPC_TIMEOUT)
        except RpcTimeout as exc:
            log.warning("/health: %s", exc)
            return None
        if not reply.ok or not isinstance(reply.result, HealthReport):
            log.warning("/health: the monitor answered an error: %s", reply.error or type(reply.result).__name__)
            return None
        return partial(health, report=reply.result)

    return {"/health": health_step}


def health(req: Request, msg: IncomingMessage, report: HealthReport | None = None) -> None:
    """The monitor's whole report in the admin's language; without it, what the gateway sees."""
    if not req.user.is_admin:
        refuse(req, msg)
        return
    if report is None:
        settings = req.settings
        db_bytes = sum(p.stat().st_size for p in settings.data_dir.glob(settings.db_path.name + "*") if p.is_file())
        req.reply(
            req.t("panel_monitor_unreachable", seconds=HEALTH_RPC_TIMEOUT)
            + "\n"
            + req.t("panel_health_local", disk=round(spool.disk_free_pct(settings.data_dir), 1),
                    spool=size_text(req.lang, spool.usage_bytes(settings.spool_dir)),
                    database=size_text(req.lang, db_bytes))
        )  # fmt: skip
        return
    m = report.machine
    load = " ".join(digits(req.lang, f"{x:.2f}") for x in m.load)
    alerts = [
        "• " + _alert_text(req, a.text_key, a.values) + ("" if a.announced else req.t("panel_alert_held"))
        for a in report.alerts
    ]
    hosts = {h.name for h in report.hosts}
    local = [p for p in report.processes if _host_of(p) not in hosts]
    figures = {
        "status": req.t(STATUS_KEYS[report.status]), "uptime": _span(req, report.uptime_s),
        "processes": "\n".join(_process_line(req, p) for p in local) or req.t("panel_none_yet"),
        "hosts": _hosts_block(req, report) if report.hosts else "",
        "disk": round(m.disk_free_pct, 1), "disk_free": size_text(req.lang, m.disk_free_bytes),
        "memory": round(m.memory_pct), "cpu": round(m.cpu_pct), "load": load,
        "spool": size_text(req.lang, m.spool_bytes), "database": size_text(req.lang, m.database_bytes),
        "queued": report.queue.queued, "running": report.queue.running, "users": report.active_users_24h,
        "alerts": req.t("panel_alerts", alerts="\n".join(alerts)) if alerts else req.t("panel_no_alerts"),
    }  # fmt: skip
    req.reply(req.t("panel_health", **figures))


def _host_of(p: ProcessHealth) -> str:
    """The joined host a process runs on (`downloader-1@dl2`), or "" for this one's."""
    return p.name.rpartition("@")[2] if "@" in p.name else ""


def _hosts_block(req: Request, report: HealthReport) -> str:
    """Each joined host (as /healthz lists it) with its processes under it."""
    lines = []
    for h in report.hosts:
        m = h.machine
        lines.append(
            req.t(
                "panel_host",
                mark=MARK_OK if h.state == HOST_JOINED else MARK_BAD,
                name=h.name,
                state=req.t(HOST_STATE_KEYS.get(h.state, HOST_STATE_KEYS[HOST_LOST])),
                downloaders=h.downloaders,
                seen=_ago(req, h.seen_age_s),
                disk=round(m.disk_free_pct, 1),
                memory=round(m.memory_pct),
                cpu=round(m.cpu_pct),
                load=" ".join(digits(req.lang, f"{x:.2f}") for x in m.load),
            )
        )
        lines += [HOST_INDENT + _process_line(req, p) for p in report.processes if _host_of(p) == h.name]
    return req.t("panel_hosts", hosts="\n".join(lines))


def _ago(req: Request, seconds: float) -> str:
    return req.t("panel_seconds", seconds=round(seconds, 1)) if seconds < MINUTE_S else _span(req, seconds)


def _process_line(req: Request, p: ProcessHealth) -> str:
    age = p.heartbeat_age_s
    beat = req.t("panel_heartbeat", age=round(age, 1)) if age is not None else ""
    state_key = f"panel_state_{p.state}"
    return req.t(
        "panel_process",
        mark=MARK_OK if p.state == "ready" else MARK_BAD,
        name=p.name,
        state=req.t(state_key) if state_key in LANGUAGES[req.lang] else p.state,
        pid=p.pid,
        rss=round(p.rss_bytes / MB),
        cpu=round(p.cpu_percent),
        restarts=p.restarts,
        heartbeat=beat,
    )


def _alert_text(req: Request, text_key: str, values: dict[str, str]) -> str:
    """An alert as the admins were told it, in this admin's language."""
    if text_key not in LANGUAGES[req.lang]:
        return text_key
    try:
        return req.t(text_key, **typed_values(values))
    except (KeyError, IndexError):  # an alert from a newer process with other placeholders
        return text_key


def _span(req: Request, seconds: float) -> str:
    minutes, hours = int(seconds // 60), int(seconds // 3600)
    if hours >= 24:
        return req.t("panel_uptime_days", days=hours // 24, hours=hours % 24)
    if hours:
        return req.t("panel_uptime_hours", hours=hours, minutes=minutes % 60)
    return req.t("panel_uptime_minutes", minutes=minutes)


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
                state=req.t(CIRCUIT_STATE_KEYS[str(v.state)]),
                failures=v.failures,
                retry=retry,
                probe=probe,
            )
        )
    req.reply("\n".join(lines))


# ---- /cleanup -----------------------------------------------------------------------------------


def cleanup(req: Request, msg: IncomingMessage) -> None:
    swept = sweeper.sweep(req.db, req.settings)
    audit(req, "cleanup", swept.describe())
    log.info("/cleanup by admin %s: %s", uid(req.user.id), swept.describe())
    req.reply(
        req.t(
            "panel_cleanup",
            count=len(swept.folders),
            files=len(swept.partial_files) + len(swept.log_files),
            freed=size_text(req.lang, swept.freed_bytes),
            spool=size_text(req.lang, spool.usage_bytes(req.settings.spool_dir)),
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
        log.warning("user %s is no admin and pressed an admin panel button; refused", uid(req.user.id))
        audit(req, "denied", f"panel button {query.data[:40]}")
        req.answer(query.id, req.t("panel_admin_only"))
        return
    op = callback.str_arg(0)
    if op == OP_RESET:
        zero = ", ".join(f"{column} = 0" for column in PER_USER_COUNTERS)
        count = req.db.execute(f"UPDATE users SET {zero}").rowcount
        audit(req, "reset_stats", f"{count} users")
        log.info("/reset_stats by admin %s: counters of %d users reset", uid(req.user.id), count)
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
