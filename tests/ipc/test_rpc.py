"""Request/reply from the gateway to the monitor."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ipc.channels import RpcClient, RpcServer, RpcTimeout
from ipc.messages import Echo, HealthQuery, RpcReply

DEADLINE = 20.0


async def test_errors_come_back_as_error_replies_and_the_server_keeps_serving(start_peer, endpoint):
    server = await start_peer("rpc-server", endpoint("rpc"))
    (bound,) = await server.expect("ready")
    with RpcClient(bound) as rpc, trio.fail_after(DEADLINE):
        failed = await rpc.call(Echo(text="fail"), timeout=DEADLINE)
        assert not failed.ok and "handler failed on purpose" in failed.error and failed.result is None
        unknown = await rpc.call(HealthQuery(), timeout=DEADLINE)  # this server has no handler for it
        assert not unknown.ok and "HealthQuery" in unknown.error
        echoed = await rpc.call(Echo(text="still alive"), timeout=DEADLINE)
        assert echoed.ok and echoed.result == Echo(text="still alive")
    assert await server.finish() == 0


async def test_a_call_nobody_answers_raises_rpc_timeout(endpoint):
    with RpcClient(endpoint("nobody")) as rpc:
        started = trio.current_time()
        with pytest.raises(RpcTimeout, match="HealthQuery"):
            await rpc.call(HealthQuery(), timeout=0.2)
        assert 0.2 <= trio.current_time() - started < DEADLINE


async def test_replies_in_any_order_reach_their_own_callers(endpoint):
    calls = 20
    with RpcServer(endpoint("rpc")) as server, RpcClient(server.endpoint) as rpc:
        results: dict[int, RpcReply] = {}

        async def answer_backwards() -> None:
            pending = [await server.recv() for _ in range(calls)]
            for peer, request in reversed(pending):
                assert isinstance(request.call, Echo)
                await server.reply(peer, RpcReply(req_id=request.req_id, ok=True, result=request.call))

        async def caller(index: int) -> None:
            results[index] = await rpc.call(Echo(text=str(index)), timeout=DEADLINE)

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(answer_backwards)
                for index in range(calls):
                    nursery.start_soon(caller, index)
        assert {i: r.result for i, r in results.items()} == {i: Echo(text=str(i)) for i in range(calls)}


async def test_a_late_reply_is_dropped_and_the_next_call_works(endpoint):
    with RpcServer(endpoint("rpc")) as server, RpcClient(server.endpoint) as rpc:
        with pytest.raises(RpcTimeout):
            await rpc.call(Echo(text="slow"), timeout=0.1)
        with trio.fail_after(DEADLINE):
            peer, late = await server.recv()
            await server.reply(peer, RpcReply(req_id=late.req_id, ok=True, result=Echo(text="too late")))
            async with trio.open_nursery() as nursery:

                async def answer() -> None:
                    peer, request = await server.recv()
                    await server.reply(peer, RpcReply(req_id=request.req_id, ok=True, result=Echo(text="on time")))

                nursery.start_soon(answer)
                reply = await rpc.call(Echo(text="fast"), timeout=DEADLINE)
        assert reply.result == Echo(text="on time")


async def test_cancelling_the_reading_caller_hands_reading_to_another(endpoint):
    with RpcServer(endpoint("rpc")) as server, RpcClient(server.endpoint) as rpc:
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                first_scope = trio.CancelScope()
                second: list[RpcReply] = []

                async def first() -> None:
                    with first_scope:
                        await rpc.call(Echo(text="first"), timeout=DEADLINE)

                async def later() -> None:
                    second.append(await rpc.call(Echo(text="second"), timeout=DEADLINE))

                nursery.start_soon(first)
                await server.recv()  # the first call's request
                nursery.start_soon(later)
                peer, request_2 = await server.recv()
                first_scope.cancel()  # the caller that was reading the socket goes away
                await trio.testing.wait_all_tasks_blocked()
                await server.reply(peer, RpcReply(req_id=request_2.req_id, ok=True, result=Echo(text="2")))
        assert second[0].result == Echo(text="2")
