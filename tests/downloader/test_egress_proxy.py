"""Real yt-dlp through the real egress proxy, in sandbox mode, against loopback servers.

The origin (the "sandbox") must download; every way to the canary (a redirect of each code, a
playlist segment, a direct link, IPv6 loopback, https) must be refused, attributed to the job,
and leave the canary with zero connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio
import yt_dlp

from downloader.egress import EgressProxy, EgressRefused, Policy, open_egress_proxy
from tests.downloader.egress_servers import (
    REDIRECT_CODES,
    Canary,
    Origin,
    basic,
    downloaded,
    loopback_servers,
    make_certificate,
    make_media,
    raw_proxy_request,
    run_ytdlp,
    sandboxed_proxy,
    tls_origin,
    ytdlp_options,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@dataclass
class Bed:
    origin: Origin
    canary: Canary
    proxy: EgressProxy
    out: Path

    def options(self, job: str) -> dict[str, object]:
        return ytdlp_options(self.proxy.ytdlp_options(job), self.out)

    def token(self) -> str:
        return urlsplit(self.proxy.url_for("x")).password or ""

    def assert_canary_untouched(self) -> None:
        assert self.canary.connections == [], f"the canary was reached: {self.canary.connections}"


@pytest.fixture
async def bed(media: Path, tmp_path: Path) -> AsyncIterator[Bed]:
    async with sandboxed_proxy(media) as (origin, canary, proxy):
        yield Bed(origin, canary, proxy, tmp_path / "out")


async def test_the_sandbox_origin_downloads_through_the_guard(bed: Bed, media: Path) -> None:
    ok, info = await run_ytdlp(bed.options("job-1"), bed.origin.url("/sample.mp4"))
    assert ok, info
    assert downloaded(info).read_bytes() == (media / "sample.mp4").read_bytes()
    assert bed.origin.requests["/sample.mp4"] >= 1
    assert bed.proxy.connections >= 1  # it came through the proxy
    assert bed.proxy.refusals("job-1") == []


async def test_hls_from_the_origin_is_fetched_natively_through_the_guard(bed: Bed) -> None:
    ok, info = await run_ytdlp(bed.options("job-2"), bed.origin.url("/good.m3u8"))
    assert ok, info
    assert downloaded(info).stat().st_size > 0
    assert bed.origin.requests["/seg_000.ts"] == 1
    assert bed.proxy.refusals("job-2") == []


@pytest.mark.parametrize("code", REDIRECT_CODES)
async def test_every_redirect_to_the_canary_is_refused(bed: Bed, code: int) -> None:
    job = f"redirect-{code}"
    ok, error = await run_ytdlp(bed.options(job), bed.origin.url(f"/redirect/{code}"))
    assert not ok
    assert bed.origin.requests[f"/redirect/{code}"] == 1  # the first hop went out, the second did not
    bed.assert_canary_untouched()
    refusals = bed.proxy.refusals(job)
    assert refusals, f"no refusal recorded; yt-dlp said {error}"
    assert {(r.reason, r.target) for r in refusals} == {("address", f"127.0.0.1:{bed.canary.port}")}


async def test_a_playlist_with_a_segment_on_the_canary_is_refused(bed: Bed) -> None:
    ok, _ = await run_ytdlp(bed.options("evil-hls"), bed.origin.url("/evil.m3u8"))
    bed.assert_canary_untouched()
    assert not ok, "a playlist whose only segment was refused must not make a file"
    assert bed.origin.requests["/evil.m3u8"] >= 1
    assert [r.reason for r in bed.proxy.refusals("evil-hls")][:1] == ["address"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "2130706433"])
async def test_direct_links_to_other_local_ports_are_refused(bed: Bed, host: str) -> None:
    ok, error = await run_ytdlp(bed.options("direct"), bed.canary.url("/sample.mp4", host))
    assert not ok
    bed.assert_canary_untouched()
    assert [r.reason for r in bed.proxy.refusals("direct")] == ["address"], error


async def test_https_to_the_canary_is_refused_at_connect(bed: Bed) -> None:
    url = f"https://127.0.0.1:{bed.canary.port}/sample.mp4"
    ok, error = await run_ytdlp(bed.options("tls"), url)
    assert not ok
    bed.assert_canary_untouched()
    assert [(r.reason, r.target) for r in bed.proxy.refusals("tls")] == [("address", f"127.0.0.1:{bed.canary.port}")], (
        error
    )


async def test_refusals_belong_to_their_job_and_are_forgotten(bed: Bed) -> None:
    await run_ytdlp(bed.options("job-a"), bed.canary.url())
    ok, _ = await run_ytdlp(bed.options("job-b"), bed.origin.url("/sample.mp4"))
    assert ok
    assert len(bed.proxy.refusals("job-a")) == 1
    assert bed.proxy.refusals("job-b") == []
    bed.proxy.forget("job-a")
    assert bed.proxy.refusals("job-a") == []


async def test_a_reused_youtubedl_is_rebound_to_the_next_job(bed: Bed) -> None:
    rtsp = {"id": "x", "title": "x", "ext": "mp4", "url": f"rtsp://127.0.0.1:{bed.canary.port}/x"}

    def three_jobs() -> tuple[bool, bool, str]:
        with yt_dlp.YoutubeDL(ytdlp_options({}, bed.out)) as ydl:
            bed.proxy.bind(ydl, "first")
            first = ydl.extract_info(bed.origin.url("/sample.mp4"), download=True) is not None
            bed.proxy.bind(ydl, "second")
            try:
                ydl.extract_info(bed.canary.url(), download=True)
                second = True
            except yt_dlp.utils.DownloadError:
                second = False
            bed.proxy.bind(ydl, "third")
            try:
                ydl.process_ie_result(dict(rtsp), download=True)
                third = "downloaded"
            except EgressRefused as exc:
                third = exc.reason
            return first, second, third

    with trio.fail_after(120):
        first, second, third = await trio.to_thread.run_sync(three_jobs, abandon_on_cancel=True)
    assert (first, second, third) == (True, False, "scheme")
    bed.assert_canary_untouched()
    assert bed.proxy.refusals("first") == []
    assert [r.reason for r in bed.proxy.refusals("second")] == ["address"]
    assert [r.reason for r in bed.proxy.refusals("third")] == ["scheme"]  # one guard, the third job's


async def test_a_format_no_proxy_can_carry_is_refused_before_download(bed: Bed) -> None:
    def rtsp_job() -> str:
        with yt_dlp.YoutubeDL(bed.options("rtsp")) as ydl:
            ydl.add_post_processor(bed.proxy.guard_postprocessor("rtsp"), when="before_dl")
            info = {"id": "x", "title": "x", "ext": "mp4", "url": f"rtsp://127.0.0.1:{bed.canary.port}/x"}
            try:
                ydl.process_ie_result(info, download=True)
            except EgressRefused as exc:
                return exc.reason
            return "downloaded"

    with trio.fail_after(60):
        assert await trio.to_thread.run_sync(rtsp_job, abandon_on_cancel=True) == "scheme"
    bed.assert_canary_untouched()
    assert [r.reason for r in bed.proxy.refusals("rtsp")] == ["scheme"]


# ---- the proxy's own door ----------------------------------------------------------------


async def test_no_credentials_get_407_and_nothing_is_fetched(bed: Bed) -> None:
    url = bed.origin.url("/sample.mp4")
    status, headers, _ = await raw_proxy_request(bed.proxy.port, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 407 and headers["proxy-authenticate"].startswith("Basic")
    assert bed.origin.requests["/sample.mp4"] == 0


async def test_a_wrong_token_is_refused_and_not_logged(bed: Bed, caplog: pytest.LogCaptureFixture) -> None:
    url = bed.origin.url("/sample.mp4")
    auth = basic("job", "not-the-token")
    request = f"GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n".encode()
    status, _, _ = await raw_proxy_request(bed.proxy.port, request)
    assert status == 407 and bed.origin.requests["/sample.mp4"] == 0
    assert "not-the-token" not in caplog.text and bed.token() not in caplog.text


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("GET ftp://127.0.0.1:{canary}/x HTTP/1.1", "scheme"),
        ("GET gopher://127.0.0.1:{canary}/_x HTTP/1.1", "scheme"),
        ("GET https://127.0.0.1:{origin}/sample.mp4 HTTP/1.1", "scheme"),
        ("GET http://u:p@127.0.0.1:{origin}/sample.mp4 HTTP/1.1", "credentials"),
        ("GET /sample.mp4 HTTP/1.1", "malformed"),
        ("CONNECT 127.0.0.1:{canary} HTTP/1.1", "address"),
        ("CONNECT [::1]:{origin} HTTP/1.1", "address"),
        ("CONNECT 0x7f000001:{canary} HTTP/1.1", "address"),
    ],
)
async def test_raw_requests_are_refused_with_a_reason(bed: Bed, line: str, reason: str) -> None:
    first = line.format(canary=bed.canary.port, origin=bed.origin.port)
    auth = basic("raw", bed.token())
    status, headers, body = await raw_proxy_request(
        bed.proxy.port, f"{first}\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n".encode()
    )
    assert (status, headers.get("x-egress-refused")) == (403, reason), body
    assert [r.reason for r in bed.proxy.refusals("raw")] == [reason]
    bed.assert_canary_untouched()
    assert bed.origin.requests["/sample.mp4"] == 0


async def test_a_garbled_head_gets_400(bed: Bed) -> None:
    status, _, _ = await raw_proxy_request(bed.proxy.port, b"GARBAGE\r\n\r\n")
    assert status == 400


async def test_the_token_never_reaches_the_origin(bed: Bed) -> None:
    ok, info = await run_ytdlp(bed.options("tap"), bed.origin.url("/sample.mp4"))
    assert ok, info
    received = b"".join(bed.origin.heads)
    assert received.startswith(b"GET /sample.mp4 HTTP/1.1\r\n")  # origin form, not absolute
    assert bed.token().encode() not in received
    assert b"proxy-authorization" not in received.lower()
    assert b"connection: close" in received.lower()


# ---- https: TLS stays end to end ----------------------------------------------------------


async def test_https_origin_downloads_through_connect(media: Path, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    async with (
        loopback_servers(media) as (_, canary),
        tls_origin(media, canary, cert, key) as origin,
        open_egress_proxy(Policy.sandbox(("127.0.0.1", origin.port))) as proxy,
    ):
        options = {**ytdlp_options(proxy.ytdlp_options("tls-ok"), tmp_path / "out"), "nocheckcertificate": True}
        ok, info = await run_ytdlp(options, origin.url("/sample.mp4"))
        assert ok, info
        assert downloaded(info).read_bytes() == (media / "sample.mp4").read_bytes()
        assert origin.requests["/sample.mp4"] >= 1 and proxy.refusals("tls-ok") == []
        assert canary.connections == []
