"""The other side of a channel, in a separate OS process, for the IPC tests.

Usage: python -m tests.ipc.peer ROLE ENDPOINT [ARGS...]

It prints `ready` once its socket is set up, then one line per fact the test needs. It takes
commands on stdin (`burst N`: send N messages) and exits when stdin closes, so a sender never
closes its socket (and loses queued messages) before the test has received everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable

import trio

from core.logs import setup_logging
from ipc.channels import (
    ControlClient,
    Publisher,
    Pusher,
    RpcHandler,
    RpcServer,
    open_job_dispatcher,
    open_job_worker,
)
from ipc.messages import Echo, Heartbeat, JobAssign, OutboxNotice, Ready, RpcCall, RpcResult


def say(*words: object) -> None:
    print(*words, flush=True)


async def read_command() -> list[str] | None:
    """The next command line from the test, or None once stdin is closed."""
    line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
    return line.split() if line else None


async def bursts(send_one: Callable[[int], Awaitable[None]]) -> None:
    """Obey `burst N` commands; message numbers run on across bursts."""
    seq = 0
    while (command := await read_command()) is not None:
        if command[0] == "burst":
            for _ in range(int(command[1])):
                await send_one(seq)
                seq += 1
            say("sent", seq)


async def pusher(endpoint: str) -> None:
    with Pusher(endpoint) as push:
        say("ready")
        await bursts(lambda k: push.send(OutboxNotice(item_id=k)))


async def publisher(endpoint: str) -> None:
    with Publisher(endpoint) as pub:
        say("ready")
        with trio.fail_after(30):
            await pub.wait_subscribed()
        say("subscribed")
        pid = os.getpid()
        await bursts(lambda k: pub.send(Heartbeat(name="publisher", pid=pid, sent_at=float(k), busy=k)))


async def dispatcher(endpoint: str) -> None:
    async with open_job_dispatcher(endpoint) as jobs:
        say("ready", jobs.endpoint)

        async def one(k: int) -> None:
            await jobs.dispatch(
                JobAssign(
                    lease=1,
                    task="download",
                    job_id=k,
                    url=f"https://example.com/{k}",
                    chat_id=1,
                    user_id=1,
                    format_key="best",
                    attempt=1,
                )
            )

        await bursts(one)


async def worker(endpoint: str, name: str, mode: str) -> None:
    """`hold`: take one job and keep it; `work`: take jobs one after another, forever."""
    async with open_job_worker(name, endpoint) as jobs:
        say("ready")
        async with trio.open_nursery() as nursery:

            async def take() -> None:
                while True:
                    job = await jobs.next_job()
                    say("got", job.job_id)
                    if mode == "hold":
                        return

            nursery.start_soon(take)
            while await read_command() is not None:
                pass
            nursery.cancel_scope.cancel()
        say("extra", jobs.unclaimed)


async def rpc_server(endpoint: str) -> None:
    async def echo(call: RpcCall) -> RpcResult:
        assert isinstance(call, Echo)
        if call.text == "fail":
            raise RuntimeError("handler failed on purpose")
        return call

    with RpcServer(endpoint) as server:
        say("ready", server.endpoint)
        async with trio.open_nursery() as nursery:
            handlers: dict[type[RpcCall], RpcHandler] = {Echo: echo}
            nursery.start_soon(server.serve, handlers)
            while await read_command() is not None:
                pass
            nursery.cancel_scope.cancel()


async def control(endpoint: str, name: str) -> None:
    with ControlClient(name, endpoint) as client:
        await client.send(Ready(name=name, pid=os.getpid()))
        say("ready")
        with trio.fail_after(30):
            msg = await client.recv()
        say("got", type(msg).__name__)
        while await read_command() is not None:
            pass


ROLES: dict[str, Callable[..., Awaitable[None]]] = {
    "pusher": pusher,
    "publisher": publisher,
    "dispatcher": dispatcher,
    "worker": worker,
    "rpc-server": rpc_server,
    "control": control,
}

if __name__ == "__main__":
    setup_logging(f"peer-{sys.argv[1]}", "WARNING")
    trio.run(ROLES[sys.argv[1]], *sys.argv[2:])
