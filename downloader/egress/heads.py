"""HTTP/1.x message heads for the egress proxy: read one, parse it, rewrite it (no policy here).

The proxy only ever looks at heads: a request head from the client (CONNECT or absolute-form),
a response head from the origin (to force `Connection: close`), a CONNECT answer from an
upstream proxy. Bodies pass through untouched. Parsing is strict on purpose: a head we cannot
read unambiguously is refused (400), never guessed at.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import trio

__all__ = [
    "HeadError",
    "RequestHead",
    "ResponseHead",
    "basic_credentials",
    "closing_response",
    "origin_request",
    "parse_request_head",
    "parse_response_head",
    "read_head",
    "simple_response",
]

MAX_HEAD_BYTES = 64 * 1024
END = b"\r\n\r\n"
RECEIVE_BYTES = 16 * 1024
# Connection-scoped headers: they describe the hop to the proxy, not the request.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "proxy-connection", "te",
    "trailer", "upgrade",
})  # fmt: skip
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")


class HeadError(ValueError):
    """A message head we will not act on (too big, not HTTP/1.x, ambiguous)."""


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        return _get(self.headers, name)


@dataclass(frozen=True)
class ResponseHead:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        return _get(self.headers, name)


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def read_head(stream: trio.abc.ReceiveStream, limit: int = MAX_HEAD_BYTES) -> tuple[bytes, bytes]:
    """(head without the blank line, bytes that came after it); HeadError if the peer stops early."""
    buf = bytearray()
    searched = 0
    while True:
        at = buf.find(END, max(0, searched - 3))
        if at >= 0:
            return bytes(buf[:at]), bytes(buf[at + len(END) :])
        if len(buf) > limit:
            raise HeadError(f"head longer than {limit} bytes")
        searched = len(buf)
        chunk = await stream.receive_some(RECEIVE_BYTES)
        if not chunk:
            raise HeadError("connection closed before the end of the head" if buf else "no request")
        buf += chunk


def _lines(raw: bytes) -> list[str]:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HeadError("undecodable head") from None
    lines = text.split("\r\n")
    if any("\n" in line or "\r" in line or "\0" in line for line in lines):
        raise HeadError("bare CR or LF in the head")
    return lines


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        if not line or line[0] in " \t":
            raise HeadError("folded or empty header line")
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise HeadError(f"bad header line {line[:40]!r}")
        headers.append((name, value.strip(" \t")))
    return headers


def parse_request_head(raw: bytes) -> RequestHead:
    lines = _lines(raw)
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not _VERSION.match(parts[2]) or not parts[1]:
        raise HeadError(f"bad request line {lines[0][:80]!r}")
    return RequestHead(parts[0], parts[1], parts[2], _headers(lines[1:]))


def parse_response_head(raw: bytes) -> ResponseHead:
    lines = _lines(raw)
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not _VERSION.match(version) or len(code) != 3 or not code.isdigit():
        raise HeadError(f"bad status line {lines[0][:80]!r}")
    return ResponseHead(version, int(code), reason, _headers(lines[1:]))


def basic_credentials(head: RequestHead) -> tuple[str, str] | None:
    """(user, password) of a `Proxy-Authorization: Basic` header, or None."""
    value = head.get("proxy-authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _without_hop_by_hop(headers: list[tuple[str, str]], also: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    named = set(also)
    for key, value in headers:
        if key.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(","))
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in named]


def origin_request(head: RequestHead, origin_form: str, authority: str) -> bytes:
    """The request as the origin must see it: origin-form target, our Host, one request only."""
    headers = _without_hop_by_hop(head.headers, frozenset({"host"}))
    lines = [f"{head.method} {origin_form} {head.version}", f"Host: {authority}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closing_response(head: ResponseHead) -> bytes:
    """The origin's response head with its connection headers replaced by `Connection: close`."""
    if 100 <= head.status < 200:
        headers = head.headers  # an interim response: pass it as it came
        tail: list[str] = []
    else:
        headers = _without_hop_by_hop(head.headers)
        tail = ["Connection: close"]
    lines = [f"{head.version} {head.status} {head.reason}".rstrip(), *(f"{k}: {v}" for k, v in headers), *tail]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def simple_response(status: int, phrase: str, body: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    """A complete small response from the proxy itself (refusals, errors, 407)."""
    data = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status} {phrase}", "Content-Type: text/plain; charset=utf-8"]
    lines += [f"{k}: {v}" for k, v in extra or []]
    lines += [f"Content-Length: {len(data)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data
