"""The downloader's wiring: its own database connection, the job and event channels."""

from __future__ import annotations

import logging

from core.child import ChildContext
from core.db import open_db
from ipc.channels import JobWorker, Pusher

log = logging.getLogger("downloader")


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        with JobWorker(ctx.name, ctx.endpoints.jobs), Pusher(ctx.endpoints.events):
            await ctx.ready()
            # Taking jobs (credits, yt-dlp in a worker thread) arrives with the downloader issue;
            # until then this process only holds its connections and heart-beats.
            await ctx.draining.wait()
    finally:
        db.close()
