"""The downloader's wiring: its own database connection, the job, event and outbox channels."""

from __future__ import annotations

import logging

import yt_dlp

from core.alerts import TelemetryAlerter
from core.child import ChildContext
from core.config import Settings
from core.db import open_db
from downloader.circuit import SharedCircuits
from downloader.cookies import CookieStore
from downloader.egress import Policy, ProxyRotation, clear_proxy_env, open_egress_proxy
from downloader.engine import Engine
from downloader.worker import Worker
from ipc.channels import JobWorker, Pusher

log = logging.getLogger("downloader")


def egress_policy(settings: Settings) -> Policy:
    return Policy.for_settings(settings)


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        with (
            JobWorker(ctx.name, ctx.endpoints.jobs) as jobs,
            Pusher(ctx.endpoints.events) as events,
            Pusher(ctx.endpoints.outbox) as outbox,
        ):
            alert = TelemetryAlerter(ctx.name, ctx.telemetry.send_nowait)  # the monitor tells the admins
            circuits = SharedCircuits(db, ctx.settings, alert=alert)
            cookies = CookieStore(ctx.settings.cookies_dir, db, alert=alert)
            policy = egress_policy(ctx.settings)
            rotation = ProxyRotation(ctx.settings.download_proxy_url, ctx.settings.proxy_set_aside_s)
            async with open_egress_proxy(policy, upstreams=rotation) as proxy:
                clear_proxy_env()  # no program this process starts fetches: none gets a proxy to use
                engine = Engine(ctx.settings, proxy)
                log.info("%s runs yt-dlp %s", ctx.name, yt_dlp.version.__version__)
                await ctx.ready()
                await Worker(ctx, db, jobs, events, outbox, engine, circuits, cookies, proxy, alert).run()
    finally:
        db.close()
