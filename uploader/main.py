"""The uploader's wiring: its database connection, the outbox channel and the sender."""

from __future__ import annotations

import logging

import trio

from core import outbox
from core.child import ChildContext
from core.db import open_db
from core.telegram.connect import NotConnected, connect_port
from ipc.channels import Puller
from uploader.sender import OutboxSender

log = logging.getLogger("uploader")

SEND_CONCURRENCY = 8  # sends in flight at once; the throttle, not this, sets the pace


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        requeued = outbox.requeue_interrupted(db)
        if requeued:
            log.info("requeued %d outbox rows interrupted by the last stop", requeued)
        with Puller(ctx.endpoints.outbox) as inbox:
            await ctx.ready()
            async with connect_port(ctx.settings, role="uploader", stop=ctx.draining) as port:
                sender = OutboxSender(ctx.settings, db, port)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender.listen, inbox)
                    await sender.run(ctx.draining, SEND_CONCURRENCY)
                    nursery.cancel_scope.cancel()
    except NotConnected as exc:
        log.info("%s", exc)
    finally:
        db.close()
