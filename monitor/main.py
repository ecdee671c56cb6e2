"""The monitor's wiring: telemetry in, /healthz out, answers to the gateway's questions."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import trio

from core.child import SUPERVISOR_PID_ENV, ChildContext
from ipc.channels import RpcServer, Subscriber
from ipc.messages import AlertRaised, Heartbeat, RpcReply
from monitor.alerts_in import AlertsIn
from monitor.http import json_route, serve_http

log = logging.getLogger("monitor")

HEALTH_HOST = "127.0.0.1"  # /healthz is for the operator's machine only


class Health:
    """What the monitor knows about the processes: the supervisor's table and heartbeats."""

    def __init__(self, ctx: ChildContext) -> None:
        self.ctx = ctx
        self.started = time.time()
        self.beats: dict[str, Heartbeat] = {}
        self.supervised = bool(os.environ.get(SUPERVISOR_PID_ENV))

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        table = self.ctx.process_table
        processes: list[dict[str, Any]] = []
        if table is not None:
            for p in table.processes:
                beat = self.beats.get(p.name)
                processes.append(
                    {
                        "name": p.name,
                        "pid": p.pid,
                        "restarts": p.restarts,
                        "state": p.state,
                        "last_exit": p.last_exit,
                        "heartbeat_age": round(now - beat.sent_at, 3) if beat and beat.pid == p.pid else None,
                    }
                )
        elif not self.supervised:  # run alone (procfile): only what heart-beats
            processes = [
                {
                    "name": b.name,
                    "pid": b.pid,
                    "restarts": 0,
                    "state": "ready",
                    "last_exit": "",
                    "heartbeat_age": round(now - b.sent_at, 3),
                }
                for b in self.beats.values()
            ]
            processes.append(
                {
                    "name": self.ctx.name,
                    "pid": os.getpid(),
                    "restarts": 0,
                    "state": "ready",
                    "last_exit": "",
                    "heartbeat_age": 0.0,
                }
            )
        stale = [p["name"] for p in processes if p["state"] not in ("ready",) and p["name"] != "supervisor"]
        status = "starting" if not processes else "degraded" if stale else "ok"
        return {
            "status": status,
            "uptime": round(now - self.started, 1),
            "processes": processes,
        }


async def body(ctx: ChildContext) -> None:
    health = Health(ctx)
    alerts = AlertsIn(ctx.settings)
    with Subscriber(ctx.endpoints.telemetry) as telemetry, RpcServer(ctx.endpoints.monitor_rpc) as rpc:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                serve_http, HEALTH_HOST, ctx.settings.monitor_port, {"/healthz": json_route(health.snapshot)}
            )
            nursery.start_soon(_telemetry, telemetry, health, alerts)
            nursery.start_soon(_rpc, rpc, health)
            await ctx.ready(port)  # MONITOR_PORT=0 lets the kernel pick: the supervisor learns which
            await ctx.draining.wait()
            nursery.cancel_scope.cancel()


async def _telemetry(sub: Subscriber, health: Health, alerts: AlertsIn) -> None:
    while True:
        msg = await sub.recv()
        if isinstance(msg, Heartbeat):
            health.beats[msg.name] = msg
        elif isinstance(msg, AlertRaised):
            alerts.handle(msg)


async def _rpc(rpc: RpcServer, health: Health) -> None:
    while True:
        peer, request = await rpc.recv()
        if request.method == "health":
            reply = RpcReply(req_id=request.req_id, ok=True, result=health.snapshot())
        else:
            reply = RpcReply(req_id=request.req_id, ok=False, result={}, error=f"unknown method {request.method}")
        await rpc.reply(peer, reply)
