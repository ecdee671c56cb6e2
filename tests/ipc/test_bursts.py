"""100,000 messages in a burst through each channel kind, between two OS processes, several times:
everything arrives, in order, and nothing hangs (each burst has a deadline)."""

from __future__ import annotations

import trio

from ipc.channels import Puller, RpcClient, Subscriber, open_job_worker
from ipc.messages import Echo, Heartbeat, OutboxNotice

BURST = 100_000
ROUNDS = 3
BURST_DEADLINE = 60.0  # seconds per burst; a burst takes 2-5 s here, so only a hang gets near it
JOB_WINDOW = 512  # credits a worker keeps outstanding, as a downloader with a prefetch would


async def test_push_pull_burst(start_peer, endpoint):
    with Puller(endpoint("outbox")) as pull:
        peer = await start_peer("pusher", pull.endpoint)
        await peer.expect("ready")
        expected = 0
        for _ in range(ROUNDS):
            await peer.command(f"burst {BURST}")
            with trio.fail_after(BURST_DEADLINE):
                for _ in range(BURST):
                    msg = await pull.recv()
                    assert isinstance(msg, OutboxNotice)
                    assert msg.item_id == expected, f"got item {msg.item_id}, expected {expected}"
                    expected += 1
            assert await peer.expect("sent") == [str(expected)]
        assert await peer.finish() == 0


async def test_pub_sub_burst(start_peer, endpoint):
    with Subscriber(endpoint("telemetry")) as sub:
        peer = await start_peer("publisher", sub.endpoint)
        await peer.expect("ready")

        async def subscribed() -> None:
            # The publisher learns of our subscription only while this socket is being serviced.
            while True:
                msg = await sub.recv()
                raise AssertionError(f"message before any burst: {msg}")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(subscribed)
            await peer.expect("subscribed")
            nursery.cancel_scope.cancel()

        expected = 0
        for _ in range(ROUNDS):
            await peer.command(f"burst {BURST}")
            with trio.fail_after(BURST_DEADLINE):
                for _ in range(BURST):
                    msg = await sub.recv()
                    assert isinstance(msg, Heartbeat)
                    assert msg.busy == expected, f"got heartbeat {msg.busy}, expected {expected}"
                    expected += 1
            assert await peer.expect("sent") == [str(expected)]
        assert await peer.finish() == 0


async def test_job_channel_burst(start_peer, endpoint):
    peer = await start_peer("dispatcher", endpoint("jobs"))
    (bound,) = await peer.expect("ready")
    async with open_job_worker("downloader-1", bound) as worker:
        await worker.grant(JOB_WINDOW)
        received = 0
        for _ in range(ROUNDS):
            await peer.command(f"burst {BURST}")
            with trio.fail_after(BURST_DEADLINE):
                for _ in range(BURST):
                    job = await worker.next_job()
                    assert job.job_id == received, f"got job {job.job_id}, expected {received}"
                    received += 1
                    if received % (JOB_WINDOW // 2) == 0:
                        await worker.grant(JOB_WINDOW // 2)
            assert await peer.expect("sent") == [str(received)]
        assert worker.outstanding >= JOB_WINDOW // 2  # never asked for more than it granted
    assert await peer.finish() == 0


async def test_rpc_burst(start_peer, endpoint):
    """Many concurrent callers in one process; every reply reaches the call that asked."""
    callers = 64
    peer = await start_peer("rpc-server", endpoint("rpc"))
    (bound,) = await peer.expect("ready")
    with RpcClient(bound) as rpc:
        for round_no in range(ROUNDS):
            answered = 0

            async def caller(index: int, round_no: int) -> None:
                nonlocal answered
                for k in range(index, BURST, callers):
                    asked = Echo(text=f"{k}/{round_no}")
                    reply = await rpc.call(asked, timeout=BURST_DEADLINE)
                    assert reply.ok and reply.result == asked, reply
                    answered += 1

            with trio.fail_after(BURST_DEADLINE):
                async with trio.open_nursery() as nursery:
                    for index in range(callers):
                        nursery.start_soon(caller, index, round_no)
            assert answered == BURST
    assert await peer.finish() == 0
