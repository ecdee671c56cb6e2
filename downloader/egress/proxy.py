"""The SSRF guard's proxy: the filtering HTTP proxy that every fetch of yt-dlp goes through.

    async with open_egress_proxy(policy, upstreams=rotation) as proxy:
        await policy.admit_url(link)                # the user's link, before yt-dlp sees it
        proxy.bind(ydl, job_id)                     # each job: options, proxy URL, format guard
        ... proxy.refusals(job_id) ...              # after a failed job: was it the guard?
        proxy.forget(job_id)

It listens on 127.0.0.1 (port 0) inside the downloader's trio loop. Each connection carries
`Proxy-Authorization: Basic <job>:<token>`: the token is random per process, so no other local
program can use the proxy, and the job id attributes refusals (`proxy.refusals(job_id)`).
It serves CONNECT host:port (https: TLS stays end to end, we see only the authority) and
absolute-form http requests (rewritten to origin form, `Connection: close` both ways, so each
request gets its own check). Each request is checked by the policy, which resolves the name
once; the proxy then connects to exactly the checked address. Refusals answer 403 with an
`X-Egress-Refused: <reason>` header and are logged once per job and target (never the token).
Everything else (a bad head, an unreachable target, a stall) fails closed.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from core import metrics
from downloader.egress import ytdlp
from downloader.egress.formats import FormatGuardPP
from downloader.egress.heads import (
    HeadError,
    RequestHead,
    basic_credentials,
    closing_response,
    origin_request,
    parse_request_head,
    parse_response_head,
    read_head,
    simple_response,
)
from downloader.egress.policy import Admitted, Policy
from downloader.egress.relay import BUFFER_BYTES, Activity, relay
from downloader.egress.rotation import ProxyRotation
from downloader.egress.targets import EgressRefused, ParsedTarget, parse_authority, parse_url
from downloader.egress.upstream import CONNECT_TIMEOUT_S, Connector, UpstreamError

__all__ = ["EgressProxy", "EgressRefused", "Policy", "Refusal", "open_egress_proxy"]

log = logging.getLogger("downloader.egress")

HEAD_TIMEOUT_S = 30.0  # a client must send its request head within this
IDLE_TIMEOUT_S = 120.0  # a relay with no byte either way for this long is cut
MAX_REFUSALS_PER_JOB = 100  # kept for `refusals()`; later ones are dropped (the log has the first)
MAX_JOBS_REMEMBERED = 1000  # jobs never forgotten are dropped oldest first
MAX_LOGGED_KEYS = 10_000  # (job, reason, target) already logged
REFUSED_HEADER = "X-Egress-Refused"
REALM = 'Basic realm="egress"'
ANY_JOB = "-"  # the job id a refusal is filed under when its job id is unusable
_JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Refusal:
    """One refused fetch of a job: why, and which host:port it named."""

    job_id: str
    reason: str  # one of targets.REASONS
    detail: str
    target: str
    at: float  # time.time()


class EgressProxy:
    """The running proxy; made by `open_egress_proxy`. Thread-safe for yt-dlp's worker threads."""

    def __init__(self, policy: Policy, connector: Connector, *, idle_s: float, head_s: float, buffer_bytes: int):
        self.policy = policy
        self.host = "127.0.0.1"
        self.port = 0
        self._connector = connector
        self._idle_s = idle_s
        self._head_s = head_s
        self._buffer_bytes = buffer_bytes
        self._token = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._refusals: OrderedDict[str, list[Refusal]] = OrderedDict()
        self._logged: set[tuple[str, str, str]] = set()
        self._open: dict[str, set[trio.CancelScope]] = {}  # connections being served, by job
        self._aborted: set[str] = set()  # jobs cut off until forgotten (their next job's start)
        self.connections = 0

    # ---- what the engine uses ---------------------------------------------------------------

    def url_for(self, job_id: str | int) -> str:
        """http://<job>:<token>@127.0.0.1:<port>: the proxy URL for one job's fetches."""
        return f"http://{_job(job_id)}:{self._token}@{self.host}:{self.port}"

    def refusals(self, job_id: str | int) -> list[Refusal]:
        """The fetches of `job_id` the guard refused so far, oldest first."""
        with self._lock:
            return list(self._refusals.get(_job(job_id), ()))

    def forget(self, job_id: str | int) -> None:
        """Drop what is kept about a finished job."""
        job = _job(job_id)
        self._aborted.discard(job)
        with self._lock:
            self._refusals.pop(job, None)
            self._logged = {key for key in self._logged if key[0] != job}

    def abort(self, job_id: str | int) -> int:
        """Cut every connection `job_id` has open, and refuse its new ones until `forget` (its job
        was cancelled: a fetch blocked in a slow site, or yt-dlp's retry of the cut one, must not
        outlive it); returns how many were cut. Call from the trio thread."""
        job = _job(job_id)
        self._aborted.add(job)
        scopes = self._open.get(job, set())
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    def ytdlp_options(self, job_id: str | int) -> dict[str, Any]:
        """The YoutubeDL options a job must run with (see ytdlp.ytdlp_options)."""
        return ytdlp.ytdlp_options(self.url_for(job_id))

    def bind(self, ydl: Any, job_id: str | int) -> None:
        """Before each job on a (reused) YoutubeDL: its options, its proxy URL, its format guard."""
        ytdlp.bind_job(ydl, self.url_for(job_id), self.guard_postprocessor(job_id))

    def guard_postprocessor(self, job_id: str | int) -> FormatGuardPP:
        """A yt-dlp 'before_dl' postprocessor refusing formats only another program could fetch."""
        return FormatGuardPP(lambda exc, target: self.note_refusal(job_id, exc, target))

    def note_refusal(self, job_id: str | int, exc: EgressRefused, target: str) -> None:
        """Record (and log once) a refusal; also used by checks outside the proxy."""
        job = _job(job_id) if _JOB_ID.match(str(job_id)) else ANY_JOB
        refusal = Refusal(job, exc.reason, exc.detail, target[:300], time.time())
        metrics.count("egress_refusals", reason=exc.reason)
        with self._lock:
            kept = self._refusals.setdefault(job, [])
            self._refusals.move_to_end(job)
            if len(kept) < MAX_REFUSALS_PER_JOB:
                kept.append(refusal)
            while len(self._refusals) > MAX_JOBS_REMEMBERED:
                self._refusals.popitem(last=False)
            key = (job, exc.reason, refusal.target)
            first = key not in self._logged
            if len(self._logged) >= MAX_LOGGED_KEYS:
                self._logged.clear()  # jobs never forgotten: at worst a refusal is logged twice
            self._logged.add(key)
        if first:
            log.warning("job %s: egress refused %s (%s): %s", job, refusal.target, exc.reason, exc.detail)

    # ---- serving ------------------------------------------------------------------------------

    async def serve_client(self, client: trio.SocketStream) -> None:
        self.connections += 1
        job = ANY_JOB
        try:
            with trio.move_on_after(self._head_s) as head_scope:
                raw, extra = await read_head(client)
            if head_scope.cancelled_caught:
                log.debug("a client sent no request head in %gs", self._head_s)
                return
            head = parse_request_head(raw)
            authorised = self._authorise(head)
            if authorised is None:
                await client.send_all(
                    simple_response(407, "Proxy Authentication Required", "proxy credentials needed\n",
                                    [("Proxy-Authenticate", REALM)])
                )  # fmt: skip
                return
            job = authorised
            if job in self._aborted:
                log.debug("job %s: cancelled; a new connection cut", job)
                return
            with trio.CancelScope() as scope:
                self._open.setdefault(job, set()).add(scope)
                try:
                    await self._handle(client, head, extra, job)
                finally:
                    self._open[job].discard(scope)
                    if not self._open[job]:
                        del self._open[job]
        except HeadError as exc:
            log.info("job %s: bad request to the egress proxy: %s", job, exc)
            await _try_send(client, simple_response(400, "Bad Request", f"bad request: {exc}\n"))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.debug("job %s: client went away: %r", job, exc)
        except Exception:
            log.exception("job %s: egress proxy connection failed", job)
            await _try_send(client, simple_response(502, "Bad Gateway", "egress proxy error\n"))
        finally:
            await trio.aclose_forcefully(client)

    def _authorise(self, head: RequestHead) -> str | None:
        creds = basic_credentials(head)
        if creds is None:
            return None
        user, password = creds
        if not hmac.compare_digest(password.encode(), self._token.encode()) or not _JOB_ID.match(user):
            log.warning("egress proxy: a request with wrong credentials was refused")
            return None
        return user

    async def _handle(self, client: trio.SocketStream, head: RequestHead, extra: bytes, job: str) -> None:
        connect = head.method.upper() == "CONNECT"
        try:
            target = parse_authority(head.target) if connect else self._absolute(head.target)
            admitted = await self.policy.admit(target)
        except EgressRefused as exc:
            self.note_refusal(job, exc, head.target if connect else _authority_of(head.target))
            body = f"egress refused: {exc.reason}: {exc.detail}\n"
            await client.send_all(simple_response(403, "Forbidden", body, [(REFUSED_HEADER, exc.reason)]))
            return
        try:
            upstream = await self._connector.connect(admitted)
        except UpstreamError as exc:
            log.info("job %s: %s", job, exc)
            status, phrase = (504, "Gateway Timeout") if exc.timeout else (502, "Bad Gateway")
            await client.send_all(simple_response(status, phrase, f"{exc}\n"))
            return
        async with upstream:
            if connect:
                await client.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if extra:
                    await upstream.send_all(extra)
                outcome = await relay(client, upstream, idle_s=self._idle_s, buffer_bytes=self._buffer_bytes)
            else:
                await upstream.send_all(origin_request(head, target.origin_form, target.authority) + extra)
                outcome = await relay(
                    client,
                    upstream,
                    idle_s=self._idle_s,
                    buffer_bytes=self._buffer_bytes,
                    before_download=lambda activity: _pass_response_head(upstream, client, activity),
                )
        if outcome.idle_cut:
            log.info("job %s: %s idle for %gs, cut", job, _shown(admitted), self._idle_s)

    @staticmethod
    def _absolute(target: str) -> ParsedTarget:
        if target.startswith("/"):
            raise EgressRefused("malformed", "origin-form request: this is a proxy, send an absolute URL")
        parsed = parse_url(target)
        if parsed.scheme != "http":
            raise EgressRefused("scheme", "https goes through CONNECT, not as an absolute URL")
        return parsed


async def _pass_response_head(upstream: trio.abc.Stream, client: trio.abc.Stream, activity: Activity) -> int:
    """Forward the response head(s) with `Connection: close`; the bytes passed on."""
    total = 0
    source: trio.abc.ReceiveStream = upstream
    while True:
        try:
            raw, extra = await read_head(source)
            head = parse_response_head(raw)
        except HeadError as exc:
            raise trio.BrokenResourceError(f"origin sent no valid response head: {exc}") from None
        activity.touch()
        data = closing_response(head)
        await client.send_all(data)
        total += len(data)
        if head.status >= 200 or head.status == 101:
            if extra:
                await client.send_all(extra)
                total += len(extra)
            return total
        if extra:
            # An interim response: what follows may hold the next head. Put it back in front.
            source = _Prefixed(upstream, extra)


class _Prefixed(trio.abc.ReceiveStream):
    """A receive stream with some bytes already read put back in front (after a 1xx head)."""

    def __init__(self, stream: trio.abc.ReceiveStream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            await trio.lowlevel.checkpoint()
            return data
        return bytes(await self._stream.receive_some(max_bytes))

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _try_send(client: trio.SocketStream, data: bytes) -> None:
    try:
        await client.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client is gone; it was told nothing, and the failure is already logged


def _job(job_id: str | int) -> str:
    job = str(job_id)
    if not _JOB_ID.match(job):
        raise ValueError(f"job id {job[:80]!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    return job


def _authority_of(url: str) -> str:
    """host:port part of a URL for a log line: never its path or query (they may hold tokens)."""
    rest = url.partition("://")[2] or url
    return rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2][:300]


def _shown(admitted: Admitted) -> str:
    return f"{admitted.target.authority} ({admitted.ip})"


@asynccontextmanager
async def open_egress_proxy(
    policy: Policy,
    *,
    upstreams: ProxyRotation | None = None,
    port: int = 0,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    idle_s: float = IDLE_TIMEOUT_S,
    head_s: float = HEAD_TIMEOUT_S,
    buffer_bytes: int = BUFFER_BYTES,
) -> AsyncIterator[EgressProxy]:
    """Run the egress proxy on 127.0.0.1 for the duration of the block."""
    proxy = EgressProxy(
        policy, Connector(upstreams, connect_timeout_s), idle_s=idle_s, head_s=head_s, buffer_bytes=buffer_bytes
    )
    listeners = await trio.open_tcp_listeners(port, host=proxy.host)
    proxy.port = listeners[0].socket.getsockname()[1]
    mode = "sandbox only" if policy.sandboxed else "public internet"
    via = f" via {len(upstreams)} download proxies" if upstreams is not None and len(upstreams) else ""
    log.info("egress proxy on %s:%d (%s%s)", proxy.host, proxy.port, mode, via)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, proxy.serve_client, listeners)
        try:
            yield proxy
        finally:
            nursery.cancel_scope.cancel()
