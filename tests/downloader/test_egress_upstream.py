"""DOWNLOAD_PROXY_URL: the guard reaches allowed targets through the operator's proxies, asking
them for the checked IP (never the name); a failing proxy is set aside and the next one used."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from downloader.egress import Policy, open_egress_proxy
from downloader.egress.rotation import ProxyRotation
from tests.downloader.egress_servers import (
    downloaded,
    loopback_servers,
    make_media,
    run_ytdlp,
    upstream_proxies,
    ytdlp_options,
)

SET_ASIDE_S = 300.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize("mode", ["http", "socks5"])
async def test_downloads_go_through_the_upstream_proxy_by_address(media: Path, tmp_path: Path, mode: str) -> None:
    async with loopback_servers(media) as (origin, canary), upstream_proxies(mode) as [upstream]:
        rotation = ProxyRotation([upstream.url("op", "s3cret")], SET_ASIDE_S)
        async with open_egress_proxy(Policy.sandbox(("127.0.0.1", origin.port)), upstreams=rotation) as proxy:
            ok, info = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("up"), tmp_path), origin.url("/sample.mp4"))
            assert ok, info
            assert downloaded(info).read_bytes() == (media / "sample.mp4").read_bytes()
            assert upstream.asked and set(upstream.asked) == {f"127.0.0.1:{origin.port}"}
            assert set(upstream.credentials) == {"op:s3cret"}

            # A refused target never reaches the upstream proxy: the check is ours, first.
            before = upstream.connections
            ok, _ = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("up"), tmp_path), canary.url())
            assert not ok and upstream.connections == before and canary.connections == []
            assert [r.reason for r in proxy.refusals("up")] == ["address"]


async def test_a_dead_proxy_is_set_aside_and_the_next_one_used(media: Path, tmp_path: Path) -> None:
    async with loopback_servers(media) as (origin, _), upstream_proxies("dead", "http") as [dead, good]:
        rotation = ProxyRotation([dead.url(), good.url()], SET_ASIDE_S, time.monotonic)
        async with open_egress_proxy(Policy.sandbox(("127.0.0.1", origin.port)), upstreams=rotation) as proxy:
            for _ in range(2):
                ok, info = await run_ytdlp(
                    ytdlp_options(proxy.ytdlp_options("rot"), tmp_path), origin.url("/sample.mp4")
                )
                assert ok, info
            assert rotation.resting() == [dead.url()]
            assert good.asked  # every request after the failure went to the good one


async def test_a_silent_proxy_times_out_and_is_set_aside(media: Path, tmp_path: Path) -> None:
    async with loopback_servers(media) as (origin, _), upstream_proxies("silent", "socks5") as [silent, good]:
        rotation = ProxyRotation([silent.url(), good.url()], SET_ASIDE_S)
        policy = Policy.sandbox(("127.0.0.1", origin.port))
        async with open_egress_proxy(policy, upstreams=rotation, connect_timeout_s=1.0) as proxy:
            ok, info = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("slow"), tmp_path), origin.url("/sample.mp4"))
            assert ok, info
            assert silent.connections >= 1 and rotation.resting() == [silent.url()]


async def test_with_every_proxy_down_the_download_fails_closed(media: Path, tmp_path: Path) -> None:
    async with loopback_servers(media) as (origin, _), upstream_proxies("dead") as [dead]:
        rotation = ProxyRotation([dead.url()], SET_ASIDE_S)
        async with open_egress_proxy(Policy.sandbox(("127.0.0.1", origin.port)), upstreams=rotation) as proxy:
            ok, error = await run_ytdlp(ytdlp_options(proxy.ytdlp_options("down"), tmp_path), origin.url("/sample.mp4"))
            assert not ok and "502" in error
            assert origin.requests["/sample.mp4"] == 0  # it did not go direct instead
            assert proxy.refusals("down") == []  # not a refusal: the operator's proxies are down
            assert rotation.next() is None
