"""Sample media under /media/: content types, lengths, ranges, pacing, and yt-dlp downloading them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import trio
import yt_dlp

from sandbox.byteserve import pattern_bytes
from tests.sandbox.support import Api

YTDLP_DEADLINE_S = 60.0


async def test_sample_files_with_types_lengths_and_ranges(http: httpx.AsyncClient, sample_media: Path):
    expected = {
        "sample.mp4": "video/mp4",
        "audio.m4a": "audio/mp4",
        "sample.m3u8": "application/vnd.apple.mpegurl",
        "thumb.jpg": "image/jpeg",
    }
    for name, content_type in expected.items():
        resp = await http.get(f"/media/{name}")
        data = (sample_media / name).read_bytes()
        assert resp.status_code == 200, name
        assert (resp.headers["content-type"].split(";")[0], int(resp.headers["content-length"])) == (
            content_type,
            len(data),
        )
        assert resp.content == data and resp.headers["accept-ranges"] == "bytes"
    tail = await http.get("/media/sample.mp4", headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == (sample_media / "sample.mp4").read_bytes()[-100:]
    head = await http.head("/media/sample.mp4")
    assert (
        head.status_code == 200 and int(head.headers["content-length"]) == (sample_media / "sample.mp4").stat().st_size
    )
    playlist = (await http.get("/media/sample.m3u8")).text
    segments = re.findall(r"^(sample_\d+\.ts)$", playlist, re.M)
    assert len(segments) >= 3
    seg = await http.get(f"/media/{segments[0]}")
    assert seg.status_code == 200 and seg.headers["content-type"] == "video/mp2t"


async def test_blob_has_the_asked_size_and_serves_ranges(http: httpx.AsyncClient):
    blob = await http.get("/media/blob", params={"size": 200_000})
    assert (blob.status_code, len(blob.content), blob.headers["content-length"]) == (200, 200_000, "200000")
    assert blob.content == pattern_bytes(0, 200_000)
    again = await http.get("/media/blob", params={"size": 200_000})
    assert hashlib.sha256(again.content).digest() == hashlib.sha256(blob.content).digest()
    part = await http.get("/media/blob", params={"size": 200_000}, headers={"Range": "bytes=70000-70009"})
    assert (part.status_code, part.content) == (206, blob.content[70000:70010])
    assert part.headers["content-range"] == "bytes 70000-70009/200000"
    beyond = await http.get("/media/blob", params={"size": 10}, headers={"Range": "bytes=20-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, "bytes */10")
    assert (await http.get("/media/blob", params={"size": "lots"})).status_code == 400


async def test_slow_streams_at_the_asked_rate(http: httpx.AsyncClient):
    start = trio.current_time()
    resp = await http.get("/media/slow", params={"rate": 50_000, "size": 30_000})
    elapsed = trio.current_time() - start
    assert len(resp.content) == 30_000 and resp.headers["content-length"] == "30000"
    assert 0.5 <= elapsed < 5  # 30 kB at 50 kB/s: at least 0.6 s minus the first chunk


async def test_any_route_answers_late_by_delay_ms(http: httpx.AsyncClient):
    start = trio.current_time()
    resp = await http.get("/media/blob", params={"size": 10, "delay_ms": 700})
    assert resp.status_code == 200 and len(resp.content) == 10
    assert trio.current_time() - start >= 0.7
    assert (await http.get("/media/blob", params={"size": 10, "delay_ms": "soon"})).status_code == 400


async def test_redirect_missing_and_page(http: httpx.AsyncClient, sandbox_url: str):
    redirect = await http.get("/media/redirect", params={"to": "/media/sample.mp4"})
    assert (redirect.status_code, redirect.headers["location"]) == (302, "/media/sample.mp4")
    followed = await http.get(
        "/media/redirect", params={"to": f"{sandbox_url}/media/blob?size=5"}, follow_redirects=True
    )
    assert followed.content == pattern_bytes(0, 5)
    assert (await http.get("/media/missing")).status_code == 404
    assert (await http.get("/media/..%2Fsecret.mp4")).status_code == 404
    page = await http.get("/media/page.html")
    assert page.headers["content-type"].startswith("text/html")
    assert f'<meta property="og:video" content="{sandbox_url}/media/sample.mp4">' in page.text


async def test_media_requests_are_counted_per_path(api: Api, http: httpx.AsyncClient):
    await http.get("/media/sample.mp4")
    await http.get("/media/sample.mp4", headers={"Range": "bytes=0-1"})
    await http.get("/media/blob", params={"size": 1})
    assert (await api.stats())["media_requests"] == {"/media/sample.mp4": 2, "/media/blob": 1}


def _ytdlp(url: str, folder: Path) -> dict[str, Any]:
    options = {
        "outtmpl": str(folder / "%(id)s.%(ext)s"),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "cachedir": False,
        "socket_timeout": 10,
    }
    with yt_dlp.YoutubeDL(options) as ydl:
        info = ydl.extract_info(url, download=True)
        return dict(ydl.sanitize_info(info))


async def test_ytdlp_downloads_the_mp4_and_the_hls_stream(
    sandbox_url: str, tmp_path: Path, sample_media: Path, api: Api
):
    with trio.fail_after(YTDLP_DEADLINE_S):
        mp4 = await trio.to_thread.run_sync(_ytdlp, f"{sandbox_url}/media/sample.mp4", tmp_path / "mp4")
        hls = await trio.to_thread.run_sync(_ytdlp, f"{sandbox_url}/media/sample.m3u8", tmp_path / "hls")
        page = await trio.to_thread.run_sync(_ytdlp, f"{sandbox_url}/media/page.html", tmp_path / "page")
    [got] = list((tmp_path / "mp4").iterdir())
    assert got.read_bytes() == (sample_media / "sample.mp4").read_bytes()
    assert mp4["ext"] == "mp4"
    [stream] = list((tmp_path / "hls").iterdir())
    assert stream.stat().st_size > 20_000 and hls["protocol"].startswith("m3u8")
    [from_page] = list((tmp_path / "page").iterdir())
    assert from_page.read_bytes() == (sample_media / "sample.mp4").read_bytes() and page["ext"] == "mp4"
    segments = [path for path in (await api.stats())["media_requests"] if path.endswith(".ts")]
    assert len(segments) >= 3


async def test_a_long_webm_lasts_the_seconds_asked_and_is_made_once(http: httpx.AsyncClient, sample_media: Path):
    first = await http.get("/media/long.webm", params={"seconds": 12})
    assert (first.status_code, first.headers["content-type"]) == (200, "video/webm")
    made = sample_media / "long-12.webm"
    probed = await trio.run_process(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", str(made)],
        capture_stdout=True,
    )
    info = json.loads(probed.stdout)
    assert {s["codec_name"] for s in info["streams"]} == {"vp9", "opus"}
    assert abs(float(info["format"]["duration"]) - 12) < 0.5
    stamp = made.stat().st_mtime_ns
    again = await http.get("/media/long.webm", params={"seconds": 12})
    assert again.content == first.content == made.read_bytes() and made.stat().st_mtime_ns == stamp
    for wrong in ("0", "601", "long"):
        assert (await http.get("/media/long.webm", params={"seconds": wrong})).status_code == 400
