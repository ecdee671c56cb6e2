"""The trio ZeroMQ adapter on its own: shared sockets, cancellation, closing."""

from __future__ import annotations

import time

import pytest
import trio
import trio.testing
import zmq

from ipc.zmqtrio import Socket, context, open_socket

DEADLINE = 20.0


def test_one_context_per_process():
    assert context() is context()


async def test_many_tasks_share_one_socket_without_losing_wakeups(endpoint):
    """The edge-trigger pitfall: 16 senders and 16 receivers on one socket, with tiny queues so
    that both directions block again and again. A lost wake-up shows as a hang."""
    tasks, per_task, hwm = 16, 1500, 4
    total = tasks * per_task
    a = open_socket(zmq.DEALER, bind=endpoint("a"), sndhwm=hwm, rcvhwm=hwm)
    b = open_socket(zmq.DEALER, connect=endpoint("a"), sndhwm=hwm, rcvhwm=hwm)
    received: list[bytes] = []
    with a, b:

        async def echo() -> None:  # the far end, also with many tasks on one socket
            while True:
                await b.send(await b.recv())

        async def sender(index: int) -> None:
            for k in range(per_task):
                await a.send([b"%d:%d" % (index, k)])

        async def receiver() -> None:
            while len(received) < total:
                received.append((await a.recv())[0])
                if len(received) == total:
                    nursery.cancel_scope.cancel()

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                for index in range(tasks):
                    nursery.start_soon(echo)
                    nursery.start_soon(sender, index)
                    nursery.start_soon(receiver)
    # Complete and without duplicates (the order is the echo tasks' interleaving).
    assert sorted(received) == sorted(b"%d:%d" % (i, k) for i in range(tasks) for k in range(per_task))


async def test_a_send_that_swallows_the_edge_still_wakes_the_receiver(endpoint):
    """The pitfall in its sharpest form: a receiver waits on ZMQ_FD; a message arrives while trio
    is not looking; a send on the same socket then processes ZeroMQ's commands and so consumes
    the fd's edge. The send must pass the news on, or the receiver sleeps forever."""
    with open_socket(zmq.DEALER, bind=endpoint("a")) as a, open_socket(zmq.DEALER, connect=endpoint("a")) as b:
        got: list[list[bytes]] = []

        async def receiver() -> None:
            got.append(await a.recv())

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await trio.testing.wait_all_tasks_blocked()
                b.zmq.send(b"to a")  # raw and synchronous: no checkpoint lets trio look at the fd
                time.sleep(0.05)  # noqa: ASYNC251 -- block the event loop on purpose: the message lands unobserved
                await a.send([b"to b"])
        assert got == [[b"to a"]]


async def test_a_blocked_recv_is_cancelled_and_loses_nothing(endpoint):
    with open_socket(zmq.PULL, bind=endpoint("p")) as pull, open_socket(zmq.PUSH, connect=endpoint("p")) as push:
        with trio.move_on_after(0.1) as scope:
            await pull.recv()
        assert scope.cancelled_caught
        await push.send([b"after"])
        with trio.fail_after(DEADLINE):
            assert await pull.recv() == [b"after"]


async def test_a_send_that_cannot_complete_is_cancelled_without_half_a_message(endpoint):
    # A bound PUSH with no peer can never send; then a multipart message must arrive whole.
    with open_socket(zmq.PUSH, bind=endpoint("p")) as push:
        with trio.move_on_after(0.1) as scope:
            await push.send([b"never", b"sent"])
        assert scope.cancelled_caught
        with open_socket(zmq.PULL, connect=endpoint("p")) as pull, trio.fail_after(DEADLINE):
            await push.send([b"part-1", b"part-2"])
            assert await pull.recv() == [b"part-1", b"part-2"]
            with trio.move_on_after(0.1):
                extra = await pull.recv()
                raise AssertionError(f"the cancelled message arrived after all: {extra}")


async def test_cancelled_sends_on_a_full_queue_leave_only_whole_messages(endpoint):
    with (
        open_socket(zmq.PULL, bind=endpoint("p"), rcvhwm=1) as pull,
        open_socket(zmq.PUSH, connect=endpoint("p"), sndhwm=1) as push,
    ):
        sent = 0
        with trio.move_on_after(0.3):
            while True:
                await push.send([b"head %d" % sent, b"body %d" % sent])
                sent += 1
        assert sent > 0
        with trio.fail_after(DEADLINE):
            for k in range(sent):
                assert await pull.recv() == [b"head %d" % k, b"body %d" % k]
        with trio.move_on_after(0.1):
            extra = await pull.recv()
            raise AssertionError(f"a message beyond the {sent} sent: {extra}")


async def test_the_fd_waiter_hands_over_when_cancelled(endpoint):
    """Two receivers: the one waiting on the fd is cancelled; the parked one must still wake."""
    with open_socket(zmq.PULL, bind=endpoint("p")) as pull, open_socket(zmq.PUSH, connect=endpoint("p")) as push:
        got: list[list[bytes]] = []

        async def first(task_status=trio.TASK_STATUS_IGNORED) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                await pull.recv()

        async def second() -> None:
            got.append(await pull.recv())

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                first_scope = await nursery.start(first)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(second)
                await trio.testing.wait_all_tasks_blocked()
                first_scope.cancel()
                await trio.testing.wait_all_tasks_blocked()
                await push.send([b"for the second"])
        assert got == [[b"for the second"]]


async def test_close_wakes_blocked_tasks(endpoint):
    pull = open_socket(zmq.PULL, bind=endpoint("p"))
    errors: list[BaseException] = []

    async def blocked() -> None:
        try:
            await pull.recv()
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(blocked)
            await trio.testing.wait_all_tasks_blocked()
            pull.close()
    assert len(errors) == 3
    with pytest.raises(trio.ClosedResourceError):
        await pull.recv()
    pull.close()  # idempotent


def test_open_socket_refuses_an_unknown_option():
    with pytest.raises(ValueError, match="no_such_option"):
        open_socket(zmq.PUSH, no_such_option=1)


async def test_bind_returns_the_real_endpoint():
    with Socket(context().socket(zmq.PULL)) as pull:
        address = pull.bind("tcp://127.0.0.1:*")
        assert address.startswith("tcp://127.0.0.1:") and not address.endswith(":*")
        with open_socket(zmq.PUSH, connect=address) as push, trio.fail_after(DEADLINE):
            await push.send([b"x"])
            assert await pull.recv() == [b"x"]
