"""ffmpeg never fetches: every URI of a hostile playlist goes through the guard or nowhere.

The sandbox (in this test's trio loop) serves the hostile manifests (`evil.m3u8` with a segment,
a key and an init segment of the attacker's choosing, `evil.mpd`); a loopback canary must never
see a connection, whatever scheme ffmpeg knows the URI is spelled in. Real yt-dlp runs through
the real egress proxy in sandbox mode, bound as the engine binds it (options and format guard).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import trio
import yt_dlp
from yt_dlp.postprocessor import FFmpegPostProcessor

from downloader.egress import EgressProxy, EgressRefused, Policy, StreamNeedsFfmpeg, open_egress_proxy
from downloader.egress.children import LOCAL_INPUT_ARGS, PROXY_VARIABLES, clear_proxy_env, without_proxies
from downloader.egress.ytdlp import ffmpeg_postprocessor_keys
from downloader.egress.ytdlp import ytdlp_options as guard_options
from downloader.errors import ErrorClass, classify
from sandbox.server import serve
from tests.downloader.egress_servers import Canary, ytdlp_options

JOB_DEADLINE_S = 120.0
# Every scheme through which ffmpeg opens a connection, each aimed at the canary (port filled in).
FFMPEG_SCHEMES = {
    "httpproxy": "httpproxy://127.0.0.1:{port}/seg.ts",
    "tcp": "tcp://127.0.0.1:{port}",
    "tls": "tls://127.0.0.1:{port}",
    "rtmp": "rtmp://127.0.0.1:{port}/live/seg",
    "hls+http": "hls+http://127.0.0.1:{port}/seg.m3u8",
    "crypto+http": "crypto+http://127.0.0.1:{port}/seg.ts",
    "subfile": "subfile,,start,0,end,0,,:http://127.0.0.1:{port}/seg.ts",
    "concat": "concat:http://127.0.0.1:{port}/a.ts|http://127.0.0.1:{port}/b.ts",
}
# Where a manifest can name a URI: (route, the query argument, more arguments).
PLACES = {
    "hls segment": ("evil.m3u8", "segment", {}),
    "hls key": ("evil.m3u8", "key", {"segment": "{sandbox}/media/sample_000.ts"}),
    "hls sample-aes key": ("evil.m3u8", "key", {"segment": "{sandbox}/media/sample_000.ts", "method": "SAMPLE-AES"}),
    "hls init segment": ("evil.m3u8", "map", {"segment": "{sandbox}/media/sample_000.ts"}),
    "dash segment": ("evil.mpd", "segment", {}),
}


@dataclass
class Bed:
    sandbox: str
    canary: Canary
    proxy: EgressProxy
    out: Path

    def url(self, place: str, uri: str) -> str:
        route, arg, more = PLACES[place]
        query = {k: v.format(sandbox=self.sandbox) for k, v in more.items()} | {arg: uri}
        return f"{self.sandbox}/media/{route}?{urlencode(query)}"

    def aimed(self, scheme: str) -> str:
        return FFMPEG_SCHEMES[scheme].format(port=self.canary.port)

    async def job(self, job: str, url: str, *, guard: bool = True) -> BaseException | dict[str, Any]:
        """Download `url` as the engine would (options and format guard bound to `job`); what it
        raised, or the info of what it downloaded. `guard=False` leaves the format guard out."""

        def run() -> BaseException | dict[str, Any]:
            options = ytdlp_options(self.proxy.ytdlp_options(job), self.out / job)
            with yt_dlp.YoutubeDL(options) as ydl:
                if guard:
                    self.proxy.bind(ydl, job)
                try:
                    return dict(ydl.extract_info(url, download=True))
                except Exception as exc:
                    return exc

        with trio.fail_after(JOB_DEADLINE_S):
            return await trio.to_thread.run_sync(run, abandon_on_cancel=True)

    def assert_canary_untouched(self) -> None:
        assert self.canary.connections == [], f"the canary was reached: {self.canary.connections}"


@pytest.fixture
async def bed(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Bed]:
    media = Path(os.environ["SANDBOX_MEDIA_DIR"])  # the session's shared samples (tests/conftest.py)
    sandbox: str = await nursery.start(partial(serve, 0, tmp_path / "sandbox", media_dir=media))
    canary = Canary()
    listeners = await nursery.start(partial(trio.serve_tcp, canary.handle, 0, host="127.0.0.1"))
    canary.port = listeners[0].socket.getsockname()[1]
    origin = urlsplit(sandbox)
    async with open_egress_proxy(Policy.sandbox((str(origin.hostname), int(origin.port or 0)))) as proxy:
        yield Bed(sandbox, canary, proxy, tmp_path / "out")


def failure_class(outcome: BaseException | dict[str, Any]) -> ErrorClass:
    assert isinstance(outcome, BaseException), f"downloaded: {outcome.get('requested_downloads')}"
    return classify(outcome).cls


@pytest.mark.parametrize("scheme", FFMPEG_SCHEMES)
@pytest.mark.parametrize("place", PLACES)
async def test_a_manifest_uri_in_any_ffmpeg_scheme_is_refused_and_never_reached(
    bed: Bed, place: str, scheme: str
) -> None:
    outcome = await bed.job("evil", bed.url(place, bed.aimed(scheme)))
    assert isinstance(outcome, EgressRefused) and outcome.reason == "scheme", outcome
    bed.assert_canary_untouched()
    assert [r.reason for r in bed.proxy.refusals("evil")] == ["scheme"]  # the guard's log has it too


@pytest.mark.parametrize("place", PLACES)
async def test_a_manifest_uri_at_this_machine_is_refused_by_the_proxy(bed: Bed, place: str) -> None:
    """yt-dlp may skip a refused fragment and finish (the engine then fails the job: see
    test_engine_egress); what matters here is that the proxy refused it and the canary saw nothing."""
    outcome = await bed.job("local", bed.url(place, f"http://127.0.0.1:{bed.canary.port}/seg.ts"))
    bed.assert_canary_untouched()
    refusals = bed.proxy.refusals("local")
    if place == "hls sample-aes key":  # refused before the download: nothing was fetched at all
        assert failure_class(outcome) is ErrorClass.STREAM_UNSUPPORTED and refusals == []
    else:
        assert {r.reason for r in refusals} == {"address"}, outcome


async def test_a_sample_aes_playlist_is_refused_as_a_stream_only_ffmpeg_could_fetch(bed: Bed) -> None:
    sandbox_key = f"{bed.sandbox}/media/blob?size=16"
    outcome = await bed.job("aes", bed.url("hls sample-aes key", sandbox_key))
    assert isinstance(outcome, StreamNeedsFfmpeg), outcome
    assert failure_class(outcome) is ErrorClass.STREAM_UNSUPPORTED
    assert not (bed.out / "aes").exists() or list((bed.out / "aes").iterdir()) == []


async def test_a_live_hls_stream_is_refused_before_ffmpeg_would_fetch_it(bed: Bed) -> None:
    def live() -> BaseException | None:
        options = ytdlp_options(bed.proxy.ytdlp_options("live"), bed.out / "live")
        info = {"id": "live", "title": "live", "ext": "mp4", "protocol": "m3u8_native", "is_live": True,
                "url": f"{bed.sandbox}/media/live.m3u8"}  # fmt: skip
        with yt_dlp.YoutubeDL(options) as ydl:
            bed.proxy.bind(ydl, "live")
            try:
                ydl.process_ie_result(info, download=True)
            except Exception as exc:
                return exc
        return None

    with trio.fail_after(JOB_DEADLINE_S):
        outcome = await trio.to_thread.run_sync(live, abandon_on_cancel=True)
    assert isinstance(outcome, StreamNeedsFfmpeg), outcome


async def test_aes_128_and_an_init_segment_are_fetched_natively_through_the_guard(bed: Bed) -> None:
    key, segment = f"{bed.sandbox}/media/blob?size=16", f"{bed.sandbox}/media/sample_000.ts"
    url = f"{bed.sandbox}/media/evil.m3u8?" + urlencode({"segment": segment, "key": key, "map": segment})
    outcome = await bed.job("aes128", url)
    assert isinstance(outcome, dict), outcome
    assert (await trio.Path(outcome["requested_downloads"][0]["filepath"]).stat()).st_size > 0
    assert bed.proxy.refusals("aes128") == []


async def test_a_dash_manifest_on_the_sandbox_downloads_natively(bed: Bed) -> None:
    outcome = await bed.job("dash", bed.url("dash segment", f"{bed.sandbox}/media/sample.mp4"))
    assert isinstance(outcome, dict), outcome
    assert (await trio.Path(outcome["requested_downloads"][0]["filepath"]).stat()).st_size > 0
    assert bed.proxy.refusals("dash") == []


@pytest.mark.parametrize("scheme", ["http", *FFMPEG_SCHEMES])
async def test_ffmpeg_started_by_ytdlp_opens_no_socket_even_without_the_format_guard(bed: Bed, scheme: str) -> None:
    """The second wall: with the format guard left out, yt-dlp hands a SAMPLE-AES playlist to
    ffmpeg (FFmpegFD), which fetches it itself; its inputs are whitelisted to file,pipe."""
    aimed = f"http://127.0.0.1:{bed.canary.port}/seg.ts" if scheme == "http" else bed.aimed(scheme)
    query = {"segment": aimed, "key": aimed, "method": "SAMPLE-AES"}
    outcome = await bed.job("unguarded", f"{bed.sandbox}/media/evil.m3u8?{urlencode(query)}", guard=False)
    assert isinstance(outcome, BaseException), outcome
    bed.assert_canary_untouched()


@pytest.mark.parametrize("scheme", ["http", *FFMPEG_SCHEMES])
async def test_ytdlp_ffprobe_on_a_playlist_in_disguise_opens_no_socket(bed: Bed, tmp_path: Path, scheme: str) -> None:
    """yt-dlp's own ffprobe runs (the HLS fix-up, the merger) take no options: a downloaded
    "video" that is a playlist naming the canary must still reach nothing."""
    aimed = f"http://127.0.0.1:{bed.canary.port}/seg.ts" if scheme == "http" else bed.aimed(scheme)
    disguised = tmp_path / "media.mp4"
    disguised.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{aimed}\n#EXT-X-ENDLIST\n")
    with yt_dlp.YoutubeDL(ytdlp_options(bed.proxy.ytdlp_options("probe"), tmp_path)) as ydl:
        pp = FFmpegPostProcessor(ydl)
        with trio.fail_after(JOB_DEADLINE_S):
            codec = await trio.to_thread.run_sync(pp.get_audio_codec, str(disguised))
            found = await trio.to_thread.run_sync(pp.get_metadata_object, str(disguised))
    assert codec is None and not found.get("streams"), found  # it read nothing, from anywhere
    bed.assert_canary_untouched()


def test_every_ffmpeg_postprocessor_input_is_local_only() -> None:
    with yt_dlp.YoutubeDL({"quiet": True, **guard_options("http://j:t@127.0.0.1:1")}) as ydl:
        classes: list[type[Any]] = [FFmpegPostProcessor]
        seen = 0
        while classes:
            cls = classes.pop()
            classes += cls.__subclasses__()
            pp = cls(ydl)
            for keys in (["_i1", "_i"], ["_i2", "_i"]):
                assert pp._configuration_args("ffmpeg", keys) == list(LOCAL_INPUT_ARGS), cls.__name__
            seen += 1
    assert seen == len(ffmpeg_postprocessor_keys()) >= 10


def test_no_child_finds_a_proxy_in_its_environment() -> None:
    environ = {"PATH": "/bin", "http_proxy": "http://x:1", "NO_PROXY": "*", "ALL_PROXY": "socks5://x:1"}
    assert without_proxies(environ) == {"PATH": "/bin"}
    assert "http_proxy" in environ  # the caller's mapping is left alone
    clear_proxy_env(environ)
    assert environ == {"PATH": "/bin"}
    assert {"https_proxy", "HTTPS_PROXY", "no_proxy"} <= PROXY_VARIABLES
