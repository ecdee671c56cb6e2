"""What every bot process shares: settings, logging, heartbeats, readiness, drain and parent watch.

A process's `main` is `run_child(name, body)`. `body(ctx)` binds its sockets and opens its
database, calls `await ctx.ready()`, works until `ctx.draining` is set, then returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from core import metrics
from core.config import Settings, SettingsError, load_settings
from core.logs import setup_from_settings
from core.runtime_limits import RuntimeLimits
from ipc.channels import ControlClient, Publisher
from ipc.endpoints import Endpoints, PathTooLong
from ipc.messages import Drain, Heartbeat, LimitsChanged, ProcessTable, Ready

log = logging.getLogger(__name__)

# Set by the supervisor for its children: a child whose parent is gone exits.
SUPERVISOR_PID_ENV = "BOT_SUPERVISOR_PID"
PARENT_CHECK_INTERVAL = 0.5  # seconds; how quickly an orphan notices
CONTROL_SEND_TIMEOUT = 2.0  # seconds; without a supervisor, control messages are dropped
METRICS_RESEND_BEATS = 30  # unchanged metrics are sent again every this many heartbeats


@dataclass
class ChildContext:
    name: str
    settings: Settings
    endpoints: Endpoints
    control: ControlClient
    telemetry: Publisher
    draining: trio.Event = field(default_factory=trio.Event)
    busy: int = 0  # jobs or sends in progress, reported in heartbeats
    process_table: ProcessTable | None = None  # the supervisor's latest view (the monitor serves it)
    limits: RuntimeLimits = field(init=False)  # the limits admins change at run time (/setlimit)

    def __post_init__(self) -> None:
        self.limits = RuntimeLimits(self.settings)

    async def ready(self, port: int = 0) -> None:
        """Tell the supervisor that sockets are bound and the database is open (and on which
        port this process serves people, when it does: the port may have been picked by bind)."""
        log.info("%s ready", self.name)
        await self.send_control(Ready(name=self.name, pid=os.getpid(), port=port))

    async def send_control(self, msg: Drain | Ready | Heartbeat | LimitsChanged) -> None:
        with trio.move_on_after(CONTROL_SEND_TIMEOUT) as scope:
            await self.control.send(msg)
        if scope.cancelled_caught:
            log.debug("no supervisor took %s", type(msg).__name__)

    def drain(self, why: str) -> None:
        if not self.draining.is_set():
            log.info("%s draining: %s", self.name, why)
            self.draining.set()


Body = Callable[[ChildContext], Awaitable[None]]


def endpoints_for(settings: Settings) -> Endpoints:
    """Every channel's address from IPC_TRANSPORT: sockets in DATA_DIR's run folder, or ports from
    IPC_BASE_PORT on IPC_HOST; on a joined host (JOIN) the job channel is the main host's. Touches no disk."""
    if settings.ipc_transport == "tcp":
        endpoints = Endpoints.tcp(settings.ipc_host, settings.ipc_base_port)
    else:
        try:
            endpoints = Endpoints.unix(settings.run_dir.absolute())
        except PathTooLong as exc:
            raise SettingsError(
                "DATA_DIR", f"is too deep for unix sockets ({exc}); use a shorter DATA_DIR or IPC_TRANSPORT=tcp"
            ) from None
    return dataclasses.replace(endpoints, jobs=settings.join) if settings.join else endpoints


def parse_name(default: str, argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=f"the bot's {default.split('-')[0]} process")
    parser.add_argument("--name", default=default, help="process name, e.g. downloader-2")
    return str(parser.parse_args(argv).name)


def run_child(default_name: str, body: Body, argv: list[str] | None = None) -> None:
    """Entry point of every process: `python -m gateway` and friends end up here."""
    name = parse_name(default_name, argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{name}: invalid setting {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_from_settings(name, settings)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        trio.run(_run, name, settings, body)
    except KeyboardInterrupt:
        pass
    log.info("%s stopped", name)


async def _run(name: str, settings: Settings, body: Body) -> None:
    endpoints = endpoints_for(settings)
    with ControlClient(name, endpoints.control) as control, Publisher(endpoints.telemetry) as telemetry:
        ctx = ChildContext(name, settings, endpoints, control, telemetry)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_heartbeats, ctx)
            nursery.start_soon(_control_messages, ctx)
            nursery.start_soon(_signals, ctx)
            supervisor = os.environ.get(SUPERVISOR_PID_ENV)
            if supervisor:
                nursery.start_soon(_watch_parent, ctx, int(supervisor))
            await body(ctx)
            nursery.cancel_scope.cancel()


async def _heartbeats(ctx: ChildContext) -> None:
    shipped, beats = -1, 0
    while True:
        beat = Heartbeat(name=ctx.name, pid=os.getpid(), sent_at=time.time(), busy=ctx.busy)
        await ctx.send_control(beat)
        with trio.move_on_after(CONTROL_SEND_TIMEOUT):
            await ctx.telemetry.send(beat)
            # The metrics go with the heartbeat when they moved, and now and then anyway (a monitor
            # that restarted learns the totals again).
            if metrics.changes() != shipped or beats % METRICS_RESEND_BEATS == 0:
                shipped = metrics.changes()
                await ctx.telemetry.send(metrics.snapshot(ctx.name))
        beats += 1
        await trio.sleep(ctx.settings.heartbeat_interval)


async def _control_messages(ctx: ChildContext) -> None:
    while True:
        msg = await ctx.control.recv()
        if isinstance(msg, Drain):
            ctx.drain("the supervisor asked")
        elif isinstance(msg, ProcessTable):
            ctx.process_table = msg
        elif isinstance(msg, LimitsChanged):
            ctx.limits.apply(msg.values)


async def _signals(ctx: ChildContext) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            ctx.drain(signal.Signals(signum).name)


async def _watch_parent(ctx: ChildContext, supervisor_pid: int) -> None:
    # PR_SET_PDEATHSIG is tied to the thread that forked us (trio spawns from a worker thread),
    # so polling our parent pid is the reliable way to notice the supervisor is gone.
    while os.getppid() == supervisor_pid:
        await trio.sleep(PARENT_CHECK_INTERVAL)
    log.warning("%s: supervisor %d is gone, exiting", ctx.name, supervisor_pid)
    os._exit(1)
