"""Production mode: a public host passes, this machine does not.

The "public" media server is a namespace of our own on a documentation address (see
tests/support/netns.py); the policy is the production one with the real resolver and this
machine's real interface list. Skipped, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from downloader.egress import EgressProxy, Policy, open_egress_proxy
from tests.downloader.egress_servers import (
    Canary,
    downloaded,
    loopback_servers,
    make_media,
    run_ytdlp,
    ytdlp_options,
)
from tests.support.netns import NetnsHost, netns_http_server, netns_unavailable

pytestmark = pytest.mark.skipif(bool(reason := netns_unavailable()), reason=reason or "")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def public_host(media: Path) -> Iterator[NetnsHost]:
    with netns_http_server(media) as host:
        yield host


@pytest.fixture
async def production(media: Path) -> AsyncIterator[tuple[EgressProxy, Canary]]:
    # The canary's port is allowed, so that what refuses it is the address rule, not the port rule.
    async with loopback_servers(media) as (_, canary):
        policy = Policy.production(allowed_ports=[canary.port])
        async with open_egress_proxy(policy) as proxy:
            yield proxy, canary


async def test_a_public_host_downloads_in_production(public_host: NetnsHost, production, media, tmp_path) -> None:
    proxy, _ = production
    ok, info = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("prod"), tmp_path), public_host.url("/sample.mp4"))
    assert ok, info
    assert downloaded(info).read_bytes() == (media / "sample.mp4").read_bytes()
    assert proxy.refusals("prod") == []


async def test_hls_from_a_public_host_downloads(public_host: NetnsHost, production, tmp_path) -> None:
    proxy, _ = production
    ok, info = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("prod-hls"), tmp_path), public_host.url("/good.m3u8"))
    assert ok, info
    assert downloaded(info).stat().st_size > 0


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "2130706433"])
async def test_the_loopback_canary_is_still_refused(public_host: NetnsHost, production, tmp_path, host: str) -> None:
    proxy, canary = production
    ok, _ = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("canary"), tmp_path), canary.url("/x.mp4", host))
    assert not ok and canary.connections == []
    [refusal] = proxy.refusals("canary")
    assert refusal.reason == "address" and "loopback" in refusal.detail


async def test_this_machines_own_address_is_refused(public_host: NetnsHost, production, tmp_path) -> None:
    # Our end of the veth pair is on the same documentation network as the public host, but it
    # is this machine: a service bound to all interfaces would answer there.
    proxy, _ = production
    url = f"http://{public_host.host_ip}:{public_host.port}/sample.mp4"
    ok, _ = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("self"), tmp_path), url)
    assert not ok
    refusals = proxy.refusals("self")
    assert [r.reason for r in refusals] == ["address"] and "own address" in refusals[0].detail
