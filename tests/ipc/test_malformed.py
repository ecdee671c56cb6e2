"""Every receiver drops what it cannot use (logged once, counted) and goes on with the next message."""

from __future__ import annotations

import random

import msgspec
import trio
import zmq

from ipc.channels import (
    ControlClient,
    ControlServer,
    Publisher,
    Puller,
    RpcClient,
    RpcServer,
    Subscriber,
    open_job_dispatcher,
    open_job_worker,
)
from ipc.messages import (
    Credit,
    Drain,
    Echo,
    Heartbeat,
    JobAssign,
    OutboxNotice,
    Ready,
    RpcReply,
    drop_counts,
    encode,
)
from ipc.zmqtrio import open_socket

DEADLINE = 10.0

BAD_PAYLOADS = [
    random.Random(7).randbytes(40),  # random bytes
    msgspec.msgpack.encode({"t": "Teleport", "v": 1, "to": "mars"}),  # unknown tag
    msgspec.msgpack.encode({"t": "OutboxNotice", "v": 2, "item_id": 1}),  # wrong version
    msgspec.msgpack.encode({"t": "OutboxNotice", "v": 1, "item_id": "one"}),  # wrong field type
    encode(Heartbeat(name="x", pid=1, sent_at=0.0)),  # a good message, on the wrong channel for most
]


def dropped() -> int:
    return sum(drop_counts().values())


async def test_puller_keeps_working(endpoint):
    with Puller(endpoint("outbox")) as pull, open_socket(zmq.PUSH, connect=pull.endpoint) as push:
        before = dropped()
        for payload in BAD_PAYLOADS[:-1]:
            await push.send([payload])
        await push.send([b"two", b"frames"])
        await push.send([encode(OutboxNotice(item_id=42))])
        with trio.fail_after(DEADLINE):
            assert await pull.recv() == OutboxNotice(item_id=42)
        assert dropped() == before + len(BAD_PAYLOADS)


async def test_subscriber_keeps_working(endpoint):
    with Subscriber(endpoint("telemetry")) as sub, Publisher(sub.endpoint) as pub:
        got = []
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:

                async def receive() -> None:
                    got.append(await sub.recv())

                nursery.start_soon(receive)
                await pub.wait_subscribed()
                for payload in BAD_PAYLOADS[:-1]:
                    await pub.socket.send([payload])
                await pub.send(Ready(name="gateway", pid=1))
        assert got == [Ready(name="gateway", pid=1)]


async def test_control_server_and_client_keep_working(endpoint):
    with ControlServer(endpoint("control")) as server:
        with open_socket(zmq.DEALER, connect=server.endpoint, identity=b"gateway") as rogue:
            for payload in BAD_PAYLOADS[:-1]:
                await rogue.send([payload])
            await rogue.send([b"extra", b"frame"])
            await rogue.send([encode(Ready(name="gateway", pid=5))])
            with trio.fail_after(DEADLINE):
                assert await server.recv() == ("gateway", Ready(name="gateway", pid=5))
        with ControlClient("uploader", server.endpoint) as client, trio.fail_after(DEADLINE):
            await client.send(Ready(name="uploader", pid=6))
            await server.recv()  # now the server knows the route to "uploader"
            for payload in BAD_PAYLOADS[:-1]:
                await server.socket.send([b"uploader", payload])
            assert await server.send("uploader", Drain())
            assert await client.recv() == Drain()


async def test_job_dispatcher_keeps_working(endpoint):
    async with open_job_dispatcher(endpoint("jobs")) as jobs:
        rogue = open_socket(zmq.DEALER, connect=jobs.endpoint)
        for payload in BAD_PAYLOADS:
            await rogue.send([payload])
        await rogue.send([encode(Credit(worker="downloader-9", slots=1))])
        job = JobAssign(lease=1, task="download", job_id=3, url="u", chat_id=1, user_id=1, format_key="f", attempt=1)
        with trio.fail_after(DEADLINE):
            assert (await jobs.dispatch(job)).name == "downloader-9"
            assert await rogue.recv() == [encode(job)]
        rogue.close(0)


async def test_job_worker_keeps_working(endpoint):
    gateway = open_socket(zmq.ROUTER, bind=endpoint("jobs"))
    job = JobAssign(lease=1, task="download", job_id=8, url="u", chat_id=1, user_id=1, format_key="f", attempt=1)
    try:
        async with open_job_worker("downloader-1", endpoint("jobs")) as w:
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as nursery:

                    async def feed() -> None:
                        identity, credit = await gateway.recv()
                        assert identity == w.identity and b"Credit" in credit
                        for payload in BAD_PAYLOADS:
                            await gateway.send([identity, payload])
                        await gateway.send([identity, encode(job)])

                    nursery.start_soon(feed)
                    assert await w.next_job() == job
    finally:
        gateway.close(0)


async def test_rpc_server_and_client_keep_working(endpoint):
    with RpcServer(endpoint("rpc")) as server, RpcClient(server.endpoint) as client:
        with open_socket(zmq.DEALER, connect=server.endpoint) as rogue:
            for payload in BAD_PAYLOADS:
                await rogue.send([payload])
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:

                async def serve_once() -> None:
                    peer, request = await server.recv()
                    assert request.call == Echo(text="ping")
                    for payload in BAD_PAYLOADS:
                        await server.socket.send([peer, payload])
                    await server.reply(peer, RpcReply(req_id=request.req_id, ok=True, result=Echo(text="pong")))

                nursery.start_soon(serve_once)
                reply = await client.call(Echo(text="ping"), timeout=DEADLINE)
        assert reply.ok and reply.result == Echo(text="pong")
