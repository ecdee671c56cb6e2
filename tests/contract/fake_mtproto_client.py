"""kurigram's real `Client`, cut from the network at the RPC boundary.

`FakeClient` is `pyrogram.Client` with two methods replaced: `load_session` (no Diffie-Hellman
key exchange with a data centre: the fake hands out an auth key) and `get_session` (no data centre
lookup: every session, the main one and the media session `save_file` uploads through, is a
`FakeSession`). Everything else is kurigram's own code: `start()` and its bot login, gap recovery,
`Client.invoke`, `save_file` with its part workers, the parsing of results into pyrogram types.

`FakeSession` is kurigram's `Session` with the transport replaced: `send()` serialises the
request to TL bytes and parses it back (as Telegram would), hands it to the fake server, and
turns an error into the real RPC error with `RPCError.raise_it`; results and pushed updates are
round-tripped through TL bytes too. `Session.invoke` is kurigram's own, so the sleep threshold,
FloodWait raising and retries are the library's behaviour, not ours.
"""

from __future__ import annotations

import asyncio
from io import BytesIO
from typing import TYPE_CHECKING, Any

from pyrogram import Client, raw
from pyrogram.errors import RPCError
from pyrogram.raw.core import TLObject
from pyrogram.session import Session
from pyrogram.session.session import SessionState

if TYPE_CHECKING:
    from tests.contract.fake_mtproto import FakeTelegram

FAKE_ADDRESS = "127.0.0.1"  # never dialled
FAKE_PORT = 443
FAKE_DC = 2
RECONNECT_DELAY = 0.05  # seconds a failed connection attempt takes (kurigram: 1 s per attempt)
WRAPPERS = (raw.functions.InvokeWithoutUpdates, raw.functions.InvokeWithTakeout, raw.functions.InvokeWithLayer)


class RpcFailure(Exception):
    """Raised by the fake server: becomes kurigram's RPCError for (code, message)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def roundtrip(obj: Any) -> Any:
    """`obj` as the other side reads it off the wire."""
    if isinstance(obj, list):
        return [roundtrip(item) for item in obj]
    if isinstance(obj, TLObject):
        return TLObject.read(BytesIO(obj.write()))
    return obj


class FakeSession(Session):
    def __init__(self, client: Client, *args: Any, server: FakeTelegram, **kwargs: Any) -> None:
        super().__init__(client, *args, **kwargs)
        self.server = server
        self.undelivered: list[Any] = []

    async def start(self) -> None:
        if self._state in (SessionState.STARTED, SessionState.STARTING):
            return
        await self._set_state(SessionState.STARTING)
        if self.server.link == "drop":
            # As Connection.connect failing: kurigram's Session.start schedules another restart.
            await asyncio.sleep(RECONNECT_DELAY)
            self.client.loop.create_task(self.restart())
            return
        await self._set_state(SessionState.STARTED)
        # kurigram's start sends InitConnection without invokeWithoutUpdates, which subscribes
        # the connection to updates (media connections carry files only).
        self.server.connected(self, subscribe=not self.is_media)
        self.is_started.set()
        while self.undelivered:
            self._deliver(self.undelivered.pop(0))
        if callable(self.client.connect_handler):
            await self.client.connect_handler(self.client, self)

    async def _stop(self) -> None:
        if self._state in (SessionState.STOPPED, SessionState.STOPPING):
            return
        await self._set_state(SessionState.STOPPING)
        self.is_started.clear()
        await self._wait_pending_tasks()
        await self._set_state(SessionState.STOPPED)
        if callable(self.client.disconnect_handler):
            await self.client.disconnect_handler(self.client, self)

    async def stop(self) -> None:
        await super().stop()
        self.server.disconnected(self)  # for good: the server forgets this session

    async def send(self, data: Any, wait_response: bool = True, timeout: float = Session.WAIT_TIMEOUT) -> Any:
        query, with_updates = data, True
        while isinstance(query, WRAPPERS):
            with_updates = with_updates and not isinstance(query, raw.functions.InvokeWithoutUpdates)
            query = query.query
        if self.server.link == "drop" or self._state is not SessionState.STARTED:
            raise ConnectionResetError("the connection to Telegram was cut")
        try:
            result = await self.server.call(self, roundtrip(query), with_updates=with_updates)
        except RpcFailure as failure:
            RPCError.raise_it(raw.types.RpcError(error_code=failure.code, error_message=failure.message), type(query))
        return roundtrip(result)

    def push(self, updates: Any) -> None:
        """Deliver `updates` as the network task would: one tracked task per packet. While the
        connection is down Telegram keeps them for this session and sends them on reconnect."""
        body = roundtrip(updates)
        if self._state is SessionState.STARTED:
            self.client.loop.call_soon(self._deliver, body)
        else:
            self.undelivered.append(body)

    def _deliver(self, body: Any) -> None:
        self._create_tracked_task(self.client.handle_updates(body))

    def cut(self) -> None:
        """The connection breaks: kurigram's network task sees it and restarts the session."""
        self.client.loop.call_soon(lambda: self.client.loop.create_task(self.restart()))


class FakeClient(Client):
    def __init__(self, *args: Any, server: FakeTelegram, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fake_server = server

    async def load_session(self) -> None:
        await self.storage.open()
        empty = any(
            [
                await self.storage.test_mode() is None,
                await self.storage.auth_key() is None,
                await self.storage.user_id() is None,
                await self.storage.is_bot() is None,
            ]
        )
        if not empty:
            return
        if not self.api_id or not self.api_hash:
            raise AttributeError("The API key is required for new authorizations.")
        await self.storage.api_id(self.api_id)
        await self.storage.dc_id(FAKE_DC)
        await self.storage.server_address(FAKE_ADDRESS)
        await self.storage.port(FAKE_PORT)
        await self.storage.date(0)
        await self.storage.test_mode(self.test_mode)
        await self.storage.auth_key(self.fake_server.create_auth_key())
        await self.storage.user_id(None)
        await self.storage.is_bot(None)

    async def get_session(
        self,
        dc_id: int | None = None,
        is_media: bool = False,
        is_cdn: bool = False,
        business_connection_id: str | None = None,
        export_authorization: bool = True,
        server_address: str | None = None,
        port: int | None = None,
        temporary: bool = False,
    ) -> Session:
        if not dc_id:
            dc_id = await self.storage.dc_id()
        if not temporary and not is_media and self.session is not None:
            return self.session
        sessions = self.media_sessions if is_media else self.sessions
        if not temporary and sessions.get(dc_id):
            return sessions[dc_id]
        session = FakeSession(
            self,
            dc_id,
            server_address or FAKE_ADDRESS,
            port or FAKE_PORT,
            await self.storage.auth_key(),
            await self.storage.test_mode(),
            is_media=is_media,
            server=self.fake_server,
        )
        if not temporary:
            sessions[dc_id] = session
        await session.start()
        return session
