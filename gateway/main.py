"""The gateway's wiring: database, the job channel and dispatch, job events, outbox, the update loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import sqlite_utils
import trio

from core import extractor_index, runtime_limits
from core.callback_data import CallbackCodec, codec_for
from core.child import ChildContext
from core.config import Settings
from core.db import open_db
from core.runtime_limits import RuntimeLimits
from core.telegram.connect import NotConnected, connect_port
from gateway.admin import audit, broadcast, menu, panel, profile, queue, ytdlp
from gateway.admin.chart import Charts
from gateway.admin.limits import LimitsAdmin
from gateway.admin.maintenance import Maintenance, PausingDispatcher
from gateway.admin.stats import StatsAdmin
from gateway.admin.steps import Inputs
from gateway.events import JobEvents
from gateway.gates import Gates
from gateway.handlers import cancel, choices, lang, settings, start
from gateway.handlers import links as link_handler
from gateway.router import Prepare, Router
from gateway.updates import UpdateLoop
from ipc.channels import JobDispatcher, Puller, Pusher, RpcClient, open_job_dispatcher
from ipc.hosts import open_listener
from ipc.messages import UPLOAD_EVENTS, OutboxNotice

log = logging.getLogger("gateway")

Announce = Callable[[list[int]], None]

HANDLERS = (start, settings, lang, choices, cancel, panel, broadcast, menu, queue, profile, audit, ytdlp)
SWEEP_INTERVAL = 5.0  # seconds between safety-net passes over the jobs


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        async with (
            open_listener(ctx.settings, ctx.telemetry.send_nowait) as listener,  # JOB_LISTEN: joined hosts
            open_job_dispatcher(
                ctx.endpoints.jobs,
                listen=ctx.settings.job_listen,
                listen_options=listener.options if listener else None,
                listen_first=listener.listen_first if listener else "",
            ) as jobs,
            trio.open_nursery() as hosts,
        ):
            if listener is not None:
                await hosts.start(listener.serve, jobs, lambda job_id: _lease(db, job_id))
            with (
                Puller(ctx.endpoints.events) as events,
                Pusher(ctx.endpoints.outbox) as outbox,
                RpcClient(ctx.endpoints.monitor_rpc) as monitor,
            ):
                await run(ctx, db, jobs, events, outbox, monitor)
            hosts.cancel_scope.cancel()
    except NotConnected as exc:
        log.info("%s", exc)
    finally:
        db.close()


async def run(
    ctx: ChildContext,
    db: sqlite_utils.Database,
    jobs: JobDispatcher,
    events: Puller,
    outbox: Pusher,
    monitor: RpcClient,
) -> None:
    settings = ctx.settings
    codec = codec_for(settings.data_dir)

    def announce(items: list[int]) -> None:
        for item_id in items:
            if not outbox.send_nowait(OutboxNotice(item_id=item_id)):
                log.debug("outbox notice %d not sent (the uploader finds the row anyway)", item_id)

    maintenance = Maintenance.load(db)
    dispatcher = PausingDispatcher(settings, db, jobs, announce, maintenance)  # queued jobs wait during maintenance
    dispatcher.adopt_in_flight()
    job_events = JobEvents(settings, db, codec, dispatcher)
    gates = Gates(settings, db, codec, maintenance_state=maintenance)
    ctx.limits.apply(runtime_limits.load(db))  # what admins set (/setlimit) before this start
    charts = Charts(settings, db, announce)
    prepare = {
        **panel.prepare_steps(settings, monitor),
        **ytdlp.prepare_steps(ctx.endpoints.control, settings.admin_ids),
    }
    router, limits = build_router(settings, db, codec, gates, ctx.limits, charts, prepare)
    # Index yt-dlp's extractors before the first link (a second or two), off the event loop.
    await trio.to_thread.run_sync(extractor_index.prepare, settings.run_dir)
    await ctx.ready()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(extractor_index.keep_current)  # re-indexed when yt-dlp is upgraded
        nursery.start_soon(dispatcher.run)
        nursery.start_soon(dispatcher.watch)
        nursery.start_soon(dispatcher.watch_moves)
        nursery.start_soon(_worker_events, jobs, job_events, announce)
        nursery.start_soon(_upload_events, events, job_events, announce)
        nursery.start_soon(_sweep, job_events, announce)
        nursery.start_soon(gates.housekeeping)
        nursery.start_soon(limits.publish, ctx)
        nursery.start_soon(charts.run)
        async with connect_port(settings, role="gateway", stop=ctx.draining) as port:
            gates.attach(port)
            nursery.start_soon(UpdateLoop(router, port, outbox, dispatcher.wake).run)
            await ctx.draining.wait()
        nursery.cancel_scope.cancel()


async def _worker_events(jobs: JobDispatcher, job_events: JobEvents, announce: Announce) -> None:
    """The downloaders' events, in order; each report is answered on its worker's connection."""
    async for inbound in jobs.events:
        try:
            outcome = job_events.from_worker(inbound)
        except Exception:  # one bad event must not stop the gateway; a report is sent again
            log.exception("handling %s of job %s failed", type(inbound.event).__name__, _job_of(inbound.event))
            continue
        announce(outcome.notices)
        if outcome.ack is not None and not jobs.send_nowait(inbound.identity, outcome.ack):
            log.info(
                "job %d: the answer to %s was not delivered (it comes again)", outcome.ack.job_id, outcome.ack.report
            )


def build_router(
    settings: Settings,
    db: sqlite_utils.Database,
    codec: CallbackCodec,
    gates: Gates | None,
    live: RuntimeLimits,
    charts: Charts | None,
    prepare: Mapping[str, Prepare] | None = None,
) -> tuple[Router, LimitsAdmin]:
    """The router with every handler table, the admin panel's included (its /setlimit holds the
    process's live limits, its /stats the chart drawer); and the limits' side that publishes them."""
    limits = LimitsAdmin(db, live)
    inputs = Inputs(gates.links if gates is not None else link_handler.links)  # a value a command awaits
    router = Router(settings, db, codec, (*HANDLERS, StatsAdmin(charts), limits), inputs, gates, prepare=prepare)
    inputs.commands = router.commands
    return router, limits


async def _upload_events(events: Puller, job_events: JobEvents, announce: Announce) -> None:
    while True:
        msg = await events.recv()
        if not isinstance(msg, UPLOAD_EVENTS):
            log.warning("dropped a %s on the events channel", type(msg).__name__)
            continue
        try:
            announce(job_events.from_uploader(msg))
        except Exception:  # the outbox rows stay the truth: the sweep ends the job
            log.exception("handling %s of job %s failed", type(msg).__name__, msg.job_id)


async def _sweep(job_events: JobEvents, announce: Announce) -> None:
    while True:
        await trio.sleep(SWEEP_INTERVAL)
        try:
            announce(job_events.sweep())
        except Exception:
            log.exception("the sweep over the jobs failed; trying again in %.0f s", SWEEP_INTERVAL)


def _lease(db: sqlite_utils.Database, job_id: int) -> int | None:
    row = db.execute("SELECT lease FROM jobs WHERE id = ?", [job_id]).fetchone()
    return None if row is None else int(row[0])


def _job_of(event: object) -> object:
    return getattr(event, "job_id", "?")
