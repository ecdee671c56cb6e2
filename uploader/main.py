"""The uploader's wiring: its database connection, the outbox channel, the sender, the broadcast
runner (sharing the sender's send budget, which starts where the last uploader left it), the
outbox's and deliveries' pruning (the monitor sweeps the spool)."""

from __future__ import annotations

import logging

import sqlite_utils
import trio

from core import broadcasts, outbox
from core.child import ChildContext
from core.config import Settings
from core.db import open_db
from core.telegram.connect import NotConnected, connect_port
from ipc.channels import Puller, Pusher
from uploader import budget_memory, media
from uploader.broadcast import BroadcastRunner
from uploader.sender import OutboxSender
from uploader.throttle import SendBudget

log = logging.getLogger("uploader")

# Rows claimed and waiting for the send budget at once: enough that priorities and the fairness
# between chats decide among many (the budget, not this, sets the pace).
SEND_WINDOW = 256
PRUNE_INTERVAL = 60.0  # seconds between prunes of the outbox and deliveries (the monitor sweeps the spool)


async def body(ctx: ChildContext) -> None:
    db = open_db(ctx.settings.db_path, busy_timeout=ctx.settings.db_busy_timeout)
    try:
        _, quarantined = media.requeue_interrupted(db, ctx.settings)
        with Puller(ctx.endpoints.outbox) as inbox, Pusher(ctx.endpoints.events) as events:
            await ctx.ready()
            async with connect_port(ctx.settings, role="uploader", stop=ctx.draining) as port:
                sender = OutboxSender(ctx.settings, db, port, events)
                _resume_budget(sender.budget, db)
                for event in quarantined:  # their jobs fail (the gateway's sweep would find them too)
                    await sender.tell_gateway(event)
                runner = BroadcastRunner(ctx.settings, db, port, sender.budget, lambda: sender.wake.set())
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender.listen, inbox)
                    nursery.start_soon(runner.run, ctx.draining)
                    nursery.start_soon(_housekeeping, ctx.settings, db)
                    await sender.run(ctx.draining, SEND_WINDOW)
                    nursery.cancel_scope.cancel()
    except NotConnected as exc:
        log.info("%s", exc)
    finally:
        db.close()


def _resume_budget(budget: SendBudget, db: sqlite_utils.Database) -> None:
    """Start the budget where the last uploader left it (a FloodWait still running), and keep its
    pauses recorded from now on."""
    pauses = budget_memory.load(db)
    if pauses.everything or pauses.chats:
        log.warning(
            "a FloodWait from before the restart still runs: %.0f s for every chat, %d chat(s) paused apart",
            pauses.everything,
            len(pauses.chats),
        )
    budget.resume(pauses)
    budget.on_flood = lambda now_paused: budget_memory.save(db, now_paused)


async def _housekeeping(settings: Settings, db: sqlite_utils.Database) -> None:
    """Remove outbox rows past OUTBOX_KEEP_DAYS, and the delivery rows of broadcasts that ended
    longer ago than that."""
    keep = settings.outbox_keep_days
    while True:
        pruned = outbox.prune(db, keep)
        if pruned:
            log.info("pruned %d sent outbox rows older than %g days", pruned, keep)
        pruned = broadcasts.prune_deliveries(db, keep)
        if pruned:
            log.info("pruned %d deliveries of broadcasts that ended more than %g days ago", pruned, keep)
        await trio.sleep(PRUNE_INTERVAL)
