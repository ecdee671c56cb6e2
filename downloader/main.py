"""The downloader's wiring: its own database (breakers, cookies), the job channel, alerts to the
monitor, the egress guard. It needs nothing of the gateway's database."""

from __future__ import annotations

import logging

import yt_dlp

from core.alerts import TelemetryAlerter
from core.child import ChildContext
from core.config import Settings
from downloader.circuit import SharedCircuits
from downloader.cookies import CookieStore
from downloader.egress import Policy, ProxyRotation, clear_proxy_env, open_egress_proxy
from downloader.engine import Engine
from downloader.ship import ShipHome
from downloader.store import open_store
from downloader.worker import Worker
from ipc.channels import open_job_worker
from ipc.hosts import joining_options
from ipc.messages import BreakerState

log = logging.getLogger("downloader")


def egress_policy(settings: Settings) -> Policy:
    return Policy.for_settings(settings)


async def body(ctx: ChildContext) -> None:
    store = open_store(ctx.settings)
    try:
        options = joining_options(ctx.settings) if ctx.settings.join else None  # CURVE to the main host
        async with open_job_worker(ctx.name, ctx.endpoints.jobs, options=options) as jobs:
            alert = TelemetryAlerter(ctx.name, ctx.telemetry.send_nowait)  # the monitor tells the admins

            def tell_gateway(state: BreakerState) -> None:
                if not jobs.send_nowait(state):
                    log.warning("circuit %s: the gateway's queue is full; its mirror waits", state.platform)

            circuits = SharedCircuits(store, ctx.settings, alert=alert, on_change=tell_gateway)
            cookies = CookieStore(ctx.settings.cookies_dir, store, alert=alert)
            policy = egress_policy(ctx.settings)
            rotation = ProxyRotation(ctx.settings.download_proxy_url, ctx.settings.proxy_set_aside_s)
            async with open_egress_proxy(policy, upstreams=rotation) as proxy:
                clear_proxy_env()  # no program this process starts fetches: none gets a proxy to use
                engine = Engine(ctx.settings, proxy)
                log.info("%s runs yt-dlp %s", ctx.name, yt_dlp.version.__version__)
                await ctx.ready()
                worker = Worker(ctx, jobs, engine, circuits, cookies, proxy, alert)
                if ctx.settings.join:  # files stream home before the download is reported
                    worker.ship = ShipHome(jobs, ctx.name, ctx.settings.file_chunk_kb * 1024)
                await worker.run()
    finally:
        store.close()
