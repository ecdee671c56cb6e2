"""The proxy's head handling: what reaches the origin and the client, and what is refused."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from downloader.egress.heads import (
    HeadError,
    basic_credentials,
    closing_response,
    origin_request,
    parse_request_head,
    parse_response_head,
    read_head,
)
from downloader.egress.proxy import _pass_response_head
from downloader.egress.relay import Activity

REQUEST = (
    b"GET http://example.com/v.mp4?x=1 HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: yt-dlp\r\n"
    b"Proxy-Authorization: Basic am9iOnNlY3JldA==\r\n"
    b"Proxy-Connection: keep-alive\r\n"
    b"Connection: keep-alive, X-Private\r\n"
    b"X-Private: 1\r\n"
    b"Range: bytes=0-\r\n"
    b"Upgrade: websocket"
)


def test_the_origin_gets_origin_form_and_no_proxy_headers() -> None:
    head = parse_request_head(REQUEST)
    assert basic_credentials(head) == ("job", "secret")
    sent = origin_request(head, "/v.mp4?x=1", "example.com").decode()
    lines = sent.split("\r\n")
    assert lines[0] == "GET /v.mp4?x=1 HTTP/1.1"
    assert "Host: example.com" in lines and "Range: bytes=0-" in lines and "User-Agent: yt-dlp" in lines
    lowered = sent.lower()
    for gone in ("proxy-authorization", "proxy-connection", "keep-alive", "x-private", "upgrade", "secret"):
        assert gone not in lowered, gone
    assert sent.endswith("Connection: close\r\n\r\n")


def test_the_client_gets_connection_close() -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: 5")
    out = closing_response(head).decode()
    assert out == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET http://a/ HTTP/1.1\r\nX: 1\nY: 2",  # bare LF
        b"GET http://a/ HTTP/1.1\r\nX: 1\r\n folded",
        b"GET http://a/ HTTP/2\r\nX: 1",
        b"GET  http://a/ HTTP/1.1",
        b"GET http://a/ HTTP/1.1\r\nBad Header: 1",
        b"GET http://a/ HTTP/1.1\r\nX: a\rb",
    ],
)
def test_ambiguous_heads_are_refused(raw: bytes) -> None:
    with pytest.raises(HeadError):
        parse_request_head(raw)


@pytest.mark.parametrize("value", ["Bearer x", "Basic !!!", "Basic " + "bm9jb2xvbg==", None])
def test_unusable_credentials_are_none(value: str | None) -> None:
    extra = f"\r\nProxy-Authorization: {value}" if value else ""
    assert basic_credentials(parse_request_head(f"GET http://a/ HTTP/1.1{extra}".encode())) is None


async def test_a_head_too_long_is_refused() -> None:
    send, receive = trio.testing.memory_stream_pair()
    await send.send_all(b"GET http://a/ HTTP/1.1\r\n" + b"X: " + b"a" * 70_000)
    with pytest.raises(HeadError):
        await read_head(receive)


async def test_interim_responses_pass_and_the_final_one_closes() -> None:
    origin_side, proxy_up = trio.testing.memory_stream_pair()
    proxy_down, client_side = trio.testing.memory_stream_pair()
    await origin_side.send_all(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nbody"
    )
    await _pass_response_head(proxy_up, proxy_down, Activity())
    got = b""
    while b"body" not in got:
        got += await client_side.receive_some()
    assert got == (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
    )
