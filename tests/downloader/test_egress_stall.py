"""Deadlines: a stalled origin, a silent client and a target that never accepts are all cut."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio

from downloader.egress import Policy, open_egress_proxy
from tests.downloader.egress_servers import BURST, TRICKLE, basic, make_media, raw_proxy_request, sandboxed_proxy

SHORT_S = 1.0  # the deadline under test
WAIT_S = 30.0  # how long the test waits for it to act, on a loaded machine


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


async def test_a_stalled_origin_is_cut_after_the_idle_deadline(media: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "downloader.egress")
    async with sandboxed_proxy(media, idle_s=SHORT_S) as (origin, _, proxy):
        token = urlsplit(proxy.url_for("stall")).password or ""
        request = f"GET {origin.url('/stall')} HTTP/1.1\r\nProxy-Authorization: {basic('stall', token)}\r\n\r\n"
        with trio.move_on_after(WAIT_S) as waited:
            status, _, body = await raw_proxy_request_until_eof(proxy.port, request.encode())
        assert not waited.cancelled_caught, f"the proxy kept a stalled relay open for {WAIT_S}s"
        assert status == 200 and body == b"some"  # what came before the stall, then the end
        assert "idle for" in caplog.text and "job stall" in caplog.text


async def raw_proxy_request_until_eof(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), {}, body


async def test_a_client_that_sends_no_head_is_dropped(media: Path) -> None:
    async with sandboxed_proxy(media, head_s=SHORT_S) as (_, _, proxy):
        stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        async with stream:
            with trio.move_on_after(WAIT_S) as waited:
                assert await stream.receive_some(100) == b""
        assert not waited.cancelled_caught, f"an idle client was kept for {WAIT_S}s"


async def test_a_target_that_never_accepts_times_out_with_504(media: Path) -> None:
    # A listener with a full accept queue: Linux drops further SYNs, so a connect just waits.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            policy = Policy.sandbox(("127.0.0.1", port))
            async with open_egress_proxy(policy, connect_timeout_s=SHORT_S) as proxy:
                token = urlsplit(proxy.url_for("t")).password or ""
                request = f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nProxy-Authorization: {basic('t', token)}\r\n\r\n"
                with trio.fail_after(WAIT_S):
                    status, _, body = await raw_proxy_request(proxy.port, request.encode())
                assert status == 504, body
        finally:
            for filler in fillers:
                filler.close()


async def test_after_a_burst_a_trickle_still_flows(media: Path) -> None:
    """Batched wake-ups after bulk must never hold bytes back: the origin here never closes."""
    async with sandboxed_proxy(media) as (origin, _, proxy):
        token = urlsplit(proxy.url_for("trickle")).password or ""
        auth = basic("trickle", token)
        request = f"GET {origin.url('/burst-then-trickle')} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n"
        stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        async with stream:
            await stream.send_all(request.encode())
            data = b""
            with trio.move_on_after(WAIT_S):
                while not data.endswith(b"t" * TRICKLE):
                    chunk = await stream.receive_some(1 << 20)
                    assert chunk, f"the proxy closed after {len(data)} bytes"
                    data += chunk
            assert data.endswith(b"t" * TRICKLE), f"{data.count(b't')} of {TRICKLE} trickled bytes in {WAIT_S}s"
            assert data.count(b"b") == BURST
