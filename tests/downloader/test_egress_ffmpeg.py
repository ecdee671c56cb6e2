"""ffmpeg fetches on its own: told to use the egress proxy, every request of it is checked too."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import yt_dlp

from downloader.egress import EgressProxy
from downloader.egress_ytdlp import PROXY_ENV, ffmpeg_env, route_process_env
from tests.downloader.egress_servers import Canary, Origin, make_media, sandboxed_proxy, ytdlp_options

FFMPEG_DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
async def bed(media: Path) -> AsyncIterator[tuple[Origin, Canary, EgressProxy]]:
    async with sandboxed_proxy(media) as servers:
        yield servers


async def ffmpeg(proxy: EgressProxy, job: str, url: str, out: Path, how: str) -> subprocess.CompletedProcess[bytes]:
    """ffmpeg copying `url` to `out`, told about the proxy by environment or by options."""
    env = proxy.ffmpeg_env(job) if how == "env" else proxy.ffmpeg_env(job, {"PATH": "/usr/bin:/bin"})
    args = proxy.ffmpeg_input_args(job) if how == "args" else []
    if how == "args":
        env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, "-i", url, "-c", "copy", str(out)]
    with trio.fail_after(FFMPEG_DEADLINE_S):
        return await trio.run_process(argv, env=env, capture_stdout=True, capture_stderr=True, check=False)


@pytest.mark.parametrize("how", ["env", "args"])
async def test_ffmpeg_fetches_the_origin_through_the_proxy(bed, tmp_path: Path, how: str) -> None:
    origin, _, proxy = bed
    before = proxy.connections
    done = await ffmpeg(proxy, "ff-ok", origin.url("/good.m3u8"), tmp_path / "out.mp4", how)
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "out.mp4").stat().st_size > 0
    assert origin.requests["/seg_000.ts"] >= 1
    # Playlist and segment came through the proxy (each a connection: Connection: close).
    assert proxy.connections - before >= 2
    assert proxy.refusals("ff-ok") == []


@pytest.mark.parametrize("how", ["env", "args"])
async def test_ffmpeg_on_a_playlist_at_the_canary_is_refused(bed, tmp_path: Path, how: str) -> None:
    _, canary, proxy = bed
    done = await ffmpeg(proxy, "ff-canary", canary.url("/live.m3u8"), tmp_path / "out.mp4", how)
    assert done.returncode != 0
    assert canary.connections == []
    assert [r.reason for r in proxy.refusals("ff-canary")] == ["address"]


@pytest.mark.parametrize("how", ["env", "args"])
async def test_ffmpeg_on_a_playlist_with_a_segment_at_the_canary_is_refused(bed, tmp_path: Path, how: str) -> None:
    origin, canary, proxy = bed
    await ffmpeg(proxy, "ff-evil", origin.url("/evil.m3u8"), tmp_path / "out.mp4", how)
    assert origin.requests["/evil.m3u8"] >= 1
    assert canary.connections == []
    assert {r.reason for r in proxy.refusals("ff-evil")} == {"address"}


async def test_ytdlp_handing_hls_to_ffmpeg_still_goes_through_the_guard(bed, tmp_path: Path) -> None:
    """A live HLS stream goes to ffmpeg (FFmpegFD) whatever the options; yt-dlp gives it the proxy."""
    origin, canary, proxy = bed

    def live_job() -> str:
        options = ytdlp_options(proxy.ytdlp_options("ff-live"), tmp_path / "out")
        info = {"id": "live", "title": "live", "ext": "mp4", "protocol": "m3u8", "is_live": True,
                "url": origin.url("/evil.m3u8")}  # fmt: skip
        with yt_dlp.YoutubeDL(options) as ydl:
            try:
                ydl.process_ie_result(info, download=True)
            except yt_dlp.utils.DownloadError as exc:
                return str(exc)
            return "downloaded"

    with trio.fail_after(FFMPEG_DEADLINE_S):
        result = await trio.to_thread.run_sync(live_job, abandon_on_cancel=True)
    assert origin.requests["/evil.m3u8"] >= 1, result  # ffmpeg did run, through the proxy
    assert canary.connections == []
    assert {r.reason for r in proxy.refusals("ff-live")} == {"address"}, result


def test_ffmpeg_env_drops_proxy_exemptions() -> None:
    base = {"PATH": "/bin", "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "*", "ALL_PROXY": "socks5://x:1"}
    env = ffmpeg_env("http://j:t@127.0.0.1:1", base)
    assert env == {"PATH": "/bin", **dict.fromkeys(PROXY_ENV, "http://j:t@127.0.0.1:1")}
    assert "no_proxy" in base  # the caller's mapping is left alone


def test_route_process_env_points_children_at_the_proxy() -> None:
    environ = {"PATH": "/bin", "no_proxy": "*", "http_proxy": "http://elsewhere:3128"}
    route_process_env("http://-:t@127.0.0.1:1", environ)
    assert environ == {"PATH": "/bin", **dict.fromkeys(PROXY_ENV, "http://-:t@127.0.0.1:1")}
