"""The downloader's wiring: its own database connection, the job, event and outbox channels."""

from __future__ import annotations

import logging

from core.child import ChildContext
from core.db import open_db
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
            engine = Engine(ctx.settings)
            await ctx.ready()
            await Worker(ctx, db, jobs, events, outbox, engine).run()
    finally:
        db.close()
