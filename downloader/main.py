"""The downloader's wiring: its own database connection, the job, event and outbox channels."""

from __future__ import annotations

import logging

from core.alerts import alerter
from core.child import ChildContext
from core.db import open_db
from downloader.circuit import SharedCircuits
from downloader.cookies import CookieStore
from downloader.engine import Engine
from downloader.worker import Worker
from ipc.channels import JobWorker, Pusher

log = logging.getLogger("downloader")


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        with (
            JobWorker(ctx.name, ctx.endpoints.jobs) as jobs,
            Pusher(ctx.endpoints.events) as events,
            Pusher(ctx.endpoints.outbox) as outbox,
        ):
            alert = alerter(db, ctx.settings)
            circuits = SharedCircuits(db, ctx.settings, alert=alert)
            cookies = CookieStore(ctx.settings.cookies_dir, db, alert=alert)
            engine = Engine(ctx.settings)
            await ctx.ready()
            await Worker(ctx, db, jobs, events, outbox, engine, circuits, cookies).run()
    finally:
        db.close()
