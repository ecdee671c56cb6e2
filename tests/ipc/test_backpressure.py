"""What senders do when the other side is down or slow: telemetry never freezes a process,
nudges can be dropped without waiting, and everything else waits (cancellably)."""

from __future__ import annotations

import trio

from ipc.channels import Publisher, Pusher, Subscriber
from ipc.messages import Heartbeat, OutboxNotice

DEADLINE = 10.0
TINY_QUEUE = 2


async def test_telemetry_without_a_monitor_never_blocks(endpoint):
    with Publisher(endpoint("telemetry")) as pub, trio.fail_after(DEADLINE):
        for k in range(5000):  # several times the queue limit
            await pub.send(Heartbeat(name="gateway", pid=1, sent_at=float(k)))


async def test_telemetry_waits_for_a_slow_monitor_or_drops_on_request(endpoint):
    """A monitor that does not read: the publisher must not drop silently (send waits), and
    send_nowait refuses rather than losing a message it claims to have sent."""
    with Subscriber(endpoint("telemetry"), rcvhwm=TINY_QUEUE) as sub, Publisher(sub.endpoint, sndhwm=TINY_QUEUE) as pub:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sub.recv)  # services the socket so that the subscription goes out
            with trio.fail_after(DEADLINE):
                await pub.wait_subscribed()
            nursery.cancel_scope.cancel()
        sent = 0
        with trio.move_on_after(0.5) as blocked:
            while True:
                await pub.send(Heartbeat(name="gateway", pid=1, sent_at=float(sent)))
                sent += 1
        assert blocked.cancelled_caught and sent > 0
        with trio.fail_after(DEADLINE):
            while pub.send_nowait(Heartbeat(name="gateway", pid=1, sent_at=float(sent))):
                sent += 1  # the queues may still have been settling; they fill up for good
            for k in range(sent):
                msg = await sub.recv()
                assert isinstance(msg, Heartbeat) and msg.sent_at == float(k)
        with trio.move_on_after(0.2):
            extra = await sub.recv()
            raise AssertionError(f"a refused message arrived: {extra}")


async def test_a_nudge_to_an_absent_uploader_is_dropped_not_waited_for(endpoint):
    with Pusher(endpoint("outbox"), sndhwm=TINY_QUEUE) as push:
        accepted = [push.send_nowait(OutboxNotice(item_id=k)) for k in range(10)]
        assert accepted[:TINY_QUEUE] == [True] * TINY_QUEUE and not any(accepted[TINY_QUEUE + 2 :])
        with trio.move_on_after(0.1) as scope:
            await push.send(OutboxNotice(item_id=99))  # the waiting kind waits, and can be cancelled
        assert scope.cancelled_caught
