"""Request/reply from the gateway to the monitor, with replies matched to calls by id.

A call is a typed struct (`ipc.messages.RpcCall`) and so is its result (`RpcResult`): the server
picks the handler by the call's type, and a handler that fails becomes an error reply.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping

import trio
import zmq

from ipc._channel import Channel, bound, connected, decode_as, is_unreachable, single_frame, split_routed
from ipc.messages import RpcCall, RpcReply, RpcRequest, RpcResult, encode

__all__ = ["DEFAULT_RPC_TIMEOUT", "RpcClient", "RpcHandler", "RpcServer", "RpcTimeout"]

log = logging.getLogger(__name__)

DEFAULT_RPC_TIMEOUT = 5.0
"""Seconds an RPC call waits for its reply unless told otherwise."""

RpcHandler = Callable[[RpcCall], Awaitable[RpcResult]]
"""An RPC method: takes the call, returns its result."""


class RpcTimeout(TimeoutError):
    """No reply to an RPC call before its deadline."""

    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(f"no reply to {method!r} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class RpcServer(Channel):
    """Monitor side of the RPC channel: receive requests, reply to the peer that asked."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(*bound(zmq.ROUTER, endpoint, router_mandatory=1))

    async def recv(self) -> tuple[bytes, RpcRequest]:
        """The next request and an opaque peer id to reply to."""
        while True:
            routed = split_routed(await self.socket.recv(), "rpc")
            request = None if routed is None else decode_as(routed[1], RpcRequest, "rpc")
            if routed is not None and request is not None:
                return routed[0], request

    async def reply(self, peer: bytes, reply: RpcReply) -> bool:
        """Send `reply` to `peer`; False if the caller has gone away."""
        try:
            await self.socket.send([peer, encode(reply)])
        except zmq.ZMQError as exc:
            if is_unreachable(exc):
                log.info("rpc caller gone before reply %d", reply.req_id)
                return False
            raise
        return True

    async def serve(self, handlers: Mapping[type[RpcCall], RpcHandler]) -> None:
        """Answer requests forever, one at a time, each by the handler of its call's type; a
        failing handler becomes an error reply."""
        while True:
            peer, request = await self.recv()
            await self.reply(peer, await self._answer(request, handlers))

    async def _answer(self, request: RpcRequest, handlers: Mapping[type[RpcCall], RpcHandler]) -> RpcReply:
        method = type(request.call).__name__
        handler = handlers.get(type(request.call))
        if handler is None:
            return RpcReply(req_id=request.req_id, ok=False, error=f"unknown method {method!r}")
        try:
            reply = RpcReply(req_id=request.req_id, ok=True, result=await handler(request.call))
            encode(reply)  # a result that cannot be encoded is the handler's error, reported as such
        except Exception as exc:
            log.exception("rpc %s failed", method)
            return RpcReply(req_id=request.req_id, ok=False, error=f"{type(exc).__name__}: {exc}")
        return reply


class _PendingCall:
    __slots__ = ("reply", "wakeup")

    def __init__(self) -> None:
        self.reply: RpcReply | None = None
        self.wakeup = trio.Event()


class RpcClient(Channel):
    """Gateway side of the RPC channel; any number of tasks may `call` at once.

    Replies are matched to calls by `req_id`. One calling task at a time reads the socket and
    hands replies to their callers; when it leaves, another waiting caller takes over.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(connected(zmq.DEALER, endpoint), endpoint)
        self._ids = itertools.count(1)
        self._pending: dict[int, _PendingCall] = {}
        self._reading = False

    async def call(self, request: RpcCall, timeout: float = DEFAULT_RPC_TIMEOUT) -> RpcReply:
        """Make the call and return its reply; raises `RpcTimeout` after `timeout` seconds."""
        req_id = next(self._ids)
        call = self._pending[req_id] = _PendingCall()
        try:
            with trio.move_on_after(timeout):
                await self.socket.send([encode(RpcRequest(req_id=req_id, call=request))])
                while call.reply is None:
                    await self._wait_for(call)
            if call.reply is None:
                raise RpcTimeout(type(request).__name__, timeout)
            return call.reply
        finally:
            del self._pending[req_id]

    async def _wait_for(self, call: _PendingCall) -> None:
        if self._reading:
            await call.wakeup.wait()
            call.wakeup = trio.Event()
            return
        self._reading = True
        try:
            while call.reply is None:
                self._route(await self.socket.recv())
        finally:
            self._reading = False
            self._hand_off(call)

    def _route(self, frames: list[bytes]) -> None:
        payload = single_frame(frames, "rpc")
        reply = None if payload is None else decode_as(payload, RpcReply, "rpc")
        if reply is None:
            return
        call = self._pending.get(reply.req_id)
        if call is None:
            log.debug("late reply %d dropped (its call timed out)", reply.req_id)
            return
        call.reply = reply
        call.wakeup.set()

    def _hand_off(self, leaving: _PendingCall) -> None:
        """The reader leaves: wake one caller still waiting so that it reads from now on."""
        for call in self._pending.values():
            if call is not leaving and call.reply is None:
                call.wakeup.set()
                return
