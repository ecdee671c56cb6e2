"""The monitor's wiring: telemetry in (heartbeats, metrics, alerts of other processes), psutil
and the database read every HEALTH_CHECK_INTERVAL, the alert rules, /healthz and /metrics on
127.0.0.1, the typed RPC for the gateway's /health, the fallback sender of alerts, and the
rounds (sweeper, backups, summary line)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import msgspec
import trio

from core import alerts
from core.child import SUPERVISOR_PID_ENV, ChildContext
from core.db import Database, open_connection
from ipc.channels import RpcHandler, RpcServer, Subscriber
from ipc.messages import (
    AlertRaised,
    HealthQuery,
    HealthReport,
    Heartbeat,
    HostStatus,
    Metrics,
    RpcCall,
    RpcResult,
)
from monitor import housekeeping, queries
from monitor.alerts import AlertBook
from monitor.fallback import FallbackSender
from monitor.health import Health
from monitor.http import JSON, serve_http
from monitor.metrics import Exported
from monitor.rules import Rules
from monitor.system import Sampler

log = logging.getLogger("monitor")

HEALTH_HOST = "127.0.0.1"  # /healthz and /metrics are for the operator's machine only
FIGURES_MAX_AGE = 1.0  # seconds the database's figures are reused between requests
_json = msgspec.json.Encoder()


class Monitor:
    def __init__(self, ctx: ChildContext, db: Database) -> None:
        self.ctx = ctx
        self.settings = settings = ctx.settings
        self.db = db
        self.sampler = Sampler(settings)
        supervised = bool(os.environ.get(SUPERVISOR_PID_ENV))
        self.health = Health(settings, ctx.name, self.sampler, lambda: ctx.process_table, supervised=supervised)
        self.rules = Rules(settings)
        self.book = AlertBook(db, settings)
        self.exported = Exported(ctx.name)
        self.fallback = FallbackSender(db, settings, self.health.uploader_state)
        self.summary = housekeeping.Summary()
        self.book.changed = self.fallback.poke  # alert rows were queued: the fallback looks at once
        self._figures = queries.Figures()
        self._figures_at = 0.0

    def figures(self) -> queries.Figures:
        if time.monotonic() - self._figures_at > FIGURES_MAX_AGE:
            self._figures, self._figures_at = queries.figures(self.db), time.monotonic()
        return self._figures

    def report(self) -> HealthReport:
        return self.health.report(self.figures(), self.book.active())

    # ---- HTTP and RPC -------------------------------------------------------------------------

    def healthz(self) -> tuple[int, str, bytes]:
        report = msgspec.to_builtins(self.report())
        report.pop("type", None)  # the struct's tag, meaningless here
        for active in report["alerts"]:  # what the admins were told, in English, for the operator
            active["message"] = alerts.english(active["text_key"], alerts.typed_values(active["values"]))
        return (200 if report["status"] == "ok" else 503), JSON, _json.encode(report)

    def metrics(self) -> tuple[int, str, bytes]:
        from prometheus_client import CONTENT_TYPE_LATEST

        self.exported.observe_health(self.report(), self.figures())
        return 200, CONTENT_TYPE_LATEST, self.exported.render()

    async def answer(self, call: RpcCall) -> RpcResult:
        assert isinstance(call, HealthQuery)
        return self.report()

    # ---- loops ---------------------------------------------------------------------------------

    async def listen(self, telemetry: Subscriber) -> None:
        while True:
            msg = await telemetry.recv()
            try:
                if isinstance(msg, Heartbeat):
                    self.health.heartbeat(msg)
                elif isinstance(msg, Metrics):
                    self.exported.received(msg)
                elif isinstance(msg, AlertRaised):
                    self.book.received(msg)
                elif isinstance(msg, HostStatus):  # a downloader host's, relayed by the gateway
                    self.health.host_status(msg)
            except Exception:  # one bad message must not stop the monitor
                log.exception("handling %s from %s failed", type(msg).__name__, getattr(msg, "name", "?"))

    async def watch(self) -> None:
        """Every heartbeat interval: stalled and crash-looping processes, held-back alerts."""
        while True:
            self._safely(lambda: self.book.apply(self.rules.processes(self.health.processes(sample=False))))
            self._safely(lambda: self.book.apply(self.rules.hosts(self.health.host_rows())))
            self._safely(self.book.send_held)
            await trio.sleep(self.settings.heartbeat_interval)

    async def check(self) -> None:
        """Every HEALTH_CHECK_INTERVAL: psutil, the database's figures, their rules."""
        while True:
            try:
                self.health.machine = await trio.to_thread.run_sync(self.sampler.machine)
            except Exception:
                log.exception("reading the machine failed")
            self._safely(lambda: self.book.apply(self.rules.machine(self.health.machine)))
            self._safely(self._check_jobs)
            await trio.sleep(self.settings.health_check_interval)

    def _check_jobs(self) -> None:
        rate = queries.failure_rate(self.db, self.settings.alert_failure_window_min * 60)
        self.book.apply(self.rules.jobs(rate, self.figures()))

    async def summarise(self) -> None:
        while True:
            await trio.sleep(self.settings.summary_interval)
            self._safely(lambda: log.info("%s", self.summary.line(self.report(), self.exported.totals())))

    def _safely(self, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:  # the database busy past its timeout, a bug in one rule: log, go on
            log.exception("a monitor round failed")


async def body(ctx: ChildContext) -> None:
    db = open_connection(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        monitor = Monitor(ctx, db)
        routes = {"/healthz": monitor.healthz, "/metrics": monitor.metrics}
        handlers: dict[type[RpcCall], RpcHandler] = {HealthQuery: monitor.answer}
        with Subscriber(ctx.endpoints.telemetry) as telemetry, RpcServer(ctx.endpoints.monitor_rpc) as rpc:
            async with trio.open_nursery() as nursery:
                port = await nursery.start(serve_http, HEALTH_HOST, ctx.settings.monitor_port, routes)
                nursery.start_soon(monitor.listen, telemetry)
                nursery.start_soon(rpc.serve, handlers)
                nursery.start_soon(monitor.watch)
                nursery.start_soon(monitor.check)
                nursery.start_soon(monitor.summarise)
                nursery.start_soon(monitor.fallback.run)
                nursery.start_soon(housekeeping.sweep_forever, ctx.settings)
                nursery.start_soon(housekeeping.back_up_forever, ctx.settings)
                await ctx.ready(port)  # MONITOR_PORT=0 lets the kernel pick: the supervisor learns which
                await ctx.draining.wait()
                nursery.cancel_scope.cancel()
    finally:
        db.close()
