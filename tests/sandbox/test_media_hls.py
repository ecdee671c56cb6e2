"""HLS under /media/: the three-rung ladder, a live window, a long VOD and a playlist pointing
anywhere, each checked with real yt-dlp (and ffprobe for what it downloaded)."""

from __future__ import annotations

import re
import time
from functools import partial
from pathlib import Path

import httpx
import trio

from sandbox.media_hls import LIVE_WINDOW_SEGMENTS, parse_segments
from tests.sandbox.support import Api, ffprobe, ytdlp

YTDLP_DEADLINE_S = 90.0
HEIGHTS = [240, 480, 720]
SLIDE_DEADLINE_S = 10.0
POLL_S = 0.2


def _sequence(playlist: str) -> int:
    found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    assert found is not None, playlist
    return int(found.group(1))


def _variant_bytes(folder: Path, name: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(f"multi_{name}_*.ts"))


async def _ytdlp(url: str, folder: Path | None = None, **options: object) -> dict:
    with trio.fail_after(YTDLP_DEADLINE_S):
        return await trio.to_thread.run_sync(partial(ytdlp, url, folder, **options))


async def test_ytdlp_lists_three_variants_with_heights_bitrates_and_duration(sandbox_url: str, sample_media: Path):
    info = await _ytdlp(f"{sandbox_url}/media/multi.m3u8")
    formats = sorted(info["formats"], key=lambda f: f["height"])
    assert [f["height"] for f in formats] == HEIGHTS, formats
    assert [f["width"] for f in formats] == [426, 854, 1280]
    assert all(f["vcodec"].startswith("avc1") and f["acodec"].startswith("mp4a") for f in formats)
    assert info["duration"] == 4 and info.get("live_status") != "is_live"
    rates = [f["tbr"] for f in formats]
    assert rates == sorted(rates) and len(set(rates)) == 3, rates
    for f, height in zip(formats, HEIGHTS, strict=True):
        # The approximate size (bitrate x duration) is what the variant's segments really weigh.
        name = {240: "240p", 480: "480p", 720: "720p"}[height]
        real = _variant_bytes(sample_media, name)
        approx = f["tbr"] * 1000 / 8 * info["duration"]
        assert 0.8 * real <= approx <= 1.25 * real, (height, approx, real)


async def test_downloading_the_480p_variant_yields_a_480_high_video(sandbox_url: str, tmp_path: Path, api: Api):
    info = await _ytdlp(f"{sandbox_url}/media/multi.m3u8", tmp_path / "dl", format="best[height=480]")
    assert info["height"] == 480
    [got] = list((tmp_path / "dl").iterdir())
    streams = ffprobe(got)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["codec_name"], video["height"]) == ("h264", 480)
    assert any(s["codec_type"] == "audio" for s in streams)
    counted = (await api.stats())["media_requests"]
    assert counted["/media/multi.m3u8"] >= 1 and counted["/media/multi_480p.m3u8"] >= 1
    assert [p for p in counted if p.startswith("/media/multi_480p_")] == [
        f"/media/multi_480p_{i:03d}.ts" for i in range(4)
    ]
    assert not any(p.startswith(("/media/multi_240p_", "/media/multi_720p_")) for p in counted)


async def test_live_playlist_is_live_and_its_window_slides(sandbox_url: str, http: httpx.AsyncClient):
    first = (await http.get("/media/live.m3u8")).text
    assert "#EXT-X-ENDLIST" not in first
    assert len(parse_segments(first)) == LIVE_WINDOW_SEGMENTS
    sequence = _sequence(first)
    assert abs(sequence - time.time()) < 5  # one-second segments: the sequence is the clock
    for segment in parse_segments(first):
        assert (await http.get(f"/media/{segment.uri}")).status_code == 200
    seen = sequence
    with trio.move_on_after(SLIDE_DEADLINE_S):  # the window moves on within a few segment durations
        while (seen := _sequence((await http.get("/media/live.m3u8")).text)) == sequence:
            await trio.sleep(POLL_S)
    assert seen > sequence, f"the media sequence stayed at {seen} for {SLIDE_DEADLINE_S}s"
    info = await _ytdlp(f"{sandbox_url}/media/live.m3u8")
    assert info["is_live"] is True and info["live_status"] == "is_live"


async def test_long_playlist_lasts_the_minutes_asked(sandbox_url: str, http: httpx.AsyncClient):
    text = (await http.get("/media/long.m3u8", params={"minutes": 90})).text
    segments = parse_segments(text)
    assert abs(sum(s.duration for s in segments) - 90 * 60) < 1e-3
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and text.count("#EXT-X-DISCONTINUITY\n") == len(segments) / 4 - 1
    odd = parse_segments((await http.get("/media/long.m3u8", params={"minutes": 0.1})).text)
    assert abs(sum(s.duration for s in odd) - 6) < 1e-3 and len(odd) == 6
    info = await _ytdlp(f"{sandbox_url}/media/long.m3u8?minutes=90")
    assert abs(info["duration"] - 90 * 60) <= 1 and info.get("live_status") != "is_live"
    for bad in ({}, {"minutes": 0}, {"minutes": "x"}, {"minutes": 100_000}):
        assert (await http.get("/media/long.m3u8", params=bad)).status_code == 400


async def test_evil_playlist_points_its_one_segment_where_asked(
    sandbox_url: str, http: httpx.AsyncClient, api: Api, tmp_path: Path
):
    target = "http://169.254.169.254/latest/meta-data/"
    text = (await http.get("/media/evil.m3u8", params={"segment": target})).text
    assert [s.uri for s in parse_segments(text)] == [target] and "#EXT-X-ENDLIST" in text
    for bad in ("relative.ts", "", "http://x/\n#EXT-X-ENDLIST", "file:///etc/passwd\r\nnext"):
        assert (await http.get("/media/evil.m3u8", params={"segment": bad})).status_code == 400, bad
    # A downloader that follows it fetches exactly that URL (here one on this sandbox).
    own = f"{sandbox_url}/media/sample_001.ts"
    info = await _ytdlp(f"{sandbox_url}/media/evil.m3u8?segment={own}", tmp_path / "evil")
    assert info["protocol"].startswith("m3u8")
    assert (await api.stats())["media_requests"]["/media/sample_001.ts"] == 1
    [got] = list((tmp_path / "evil").iterdir())
    assert ffprobe(got)["format"]["duration"].startswith("1.")


async def test_every_media_request_is_counted_by_path_with_a_total(http: httpx.AsyncClient, api: Api):
    paths = ["/media/multi.m3u8", "/media/multi_720p.m3u8", "/media/multi_720p_002.ts", "/media/live.m3u8"]
    for path in paths:
        await http.get(path)
    await http.get("/media/status", params={"code": 404})
    await http.get("/media/status", params={"code": 410})
    await http.get("/media/nothing.here")
    stats = await api.stats()
    expected = {**dict.fromkeys(paths, 1), "/media/status": 2, "/media/nothing.here": 1}
    assert stats["media_requests"] == expected
    assert stats["media_requests_total"] == 7


async def test_ytdlp_finds_webvtt_subtitles_in_persian_and_english_and_downloads_them(
    sandbox_url: str, tmp_path: Path
) -> None:
    info = await _ytdlp(f"{sandbox_url}/media/multi.m3u8")
    assert sorted(info["subtitles"]) == ["en", "fa"]
    assert all(track["ext"] == "vtt" for tracks in info["subtitles"].values() for track in tracks)
    options = {"skip_download": True, "writesubtitles": True, "subtitleslangs": ["fa", "en"]}
    await _ytdlp(f"{sandbox_url}/media/multi.m3u8", tmp_path / "subs", **options)
    files = {p.name.rsplit(".", 2)[-2]: p.read_text(encoding="utf-8") for p in (tmp_path / "subs").glob("*.vtt")}
    assert sorted(files) == ["en", "fa"]
    assert files["fa"].startswith("WEBVTT") and "زیرنویس شماره 1" in files["fa"] and "زیرنویس شماره 4" in files["fa"]
    assert "Subtitle number 4" in files["en"]
