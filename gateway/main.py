"""The gateway's wiring: database, job dispatch, outbox, and the update loop."""

from __future__ import annotations

import logging

import trio

from core.child import ChildContext
from core.db import open_db
from core.telegram.connect import NotConnected, connect_port
from gateway.updates import UpdateLoop
from ipc.channels import JobDispatcher, Puller, Pusher

log = logging.getLogger("gateway")


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        with JobDispatcher(ctx.endpoints.jobs), Puller(ctx.endpoints.events), Pusher(ctx.endpoints.outbox) as outbox:
            await ctx.ready()
            async with (
                connect_port(ctx.settings, role="gateway", stop=ctx.draining) as port,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(UpdateLoop(ctx.settings, db, port, outbox).run)
                await ctx.draining.wait()
                nursery.cancel_scope.cancel()
    except NotConnected as exc:
        log.info("%s", exc)
    finally:
        db.close()
