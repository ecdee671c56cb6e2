"""The webm sample, the RSS feed and the titled page, as ffprobe and real yt-dlp see them."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from urllib.parse import urldefrag

import httpx
import trio

from tests.sandbox.support import ffprobe, ytdlp

YTDLP_DEADLINE_S = 60.0
TRICKY_TITLE = "<b>bold</b> & <script>alert(1)</script> \"quoted\" 'single' </title><fake-tag> سلام"


async def _ytdlp(url: str, folder: Path | None = None, **options: object) -> dict:
    with trio.fail_after(YTDLP_DEADLINE_S):
        return await trio.to_thread.run_sync(partial(ytdlp, url, folder, **options))


async def test_webm_is_vp9_and_opus(http: httpx.AsyncClient, sample_media: Path, sandbox_url: str, tmp_path: Path):
    resp = await http.get("/media/sample.webm")
    assert (resp.status_code, resp.headers["content-type"]) == (200, "video/webm")
    codecs = {s["codec_type"]: s["codec_name"] for s in ffprobe(sample_media / "sample.webm")["streams"]}
    assert codecs == {"video": "vp9", "audio": "opus"}
    info = await _ytdlp(f"{sandbox_url}/media/sample.webm", tmp_path / "dl")
    assert info["ext"] == "webm"
    [got] = list((tmp_path / "dl").iterdir())
    assert got.read_bytes() == resp.content


async def test_feed_is_a_playlist_of_n_distinct_items_in_order(http: httpx.AsyncClient, sandbox_url: str):
    resp = await http.get("/media/feed.xml", params={"items": 5})
    assert resp.headers["content-type"].startswith("application/rss+xml")
    info = await _ytdlp(f"{sandbox_url}/media/feed.xml?items=5", extract_flat=True)
    assert info["_type"] == "playlist"
    entries = info["entries"]
    assert [e["title"] for e in entries] == [f"Item {i}" for i in range(1, 6)]
    urls = [urldefrag(e["url"]).url for e in entries]  # yt-dlp smuggles each item's guid in a fragment
    assert urls == [f"{sandbox_url}/media/sample.mp4?item={i}" for i in range(1, 6)]
    empty = await _ytdlp(f"{sandbox_url}/media/feed.xml?items=0", extract_flat=True)
    assert empty["entries"] == []
    default = await http.get("/media/feed.xml")
    assert default.text.count("<item>") == 3
    for bad in ("-1", "x", "100000"):
        assert (await http.get("/media/feed.xml", params={"items": bad})).status_code == 400


async def test_a_feed_takes_its_title_literally_and_has_up_to_ten_thousand_items(http, sandbox_url: str):
    info = await _ytdlp(str(httpx.URL(f"{sandbox_url}/media/feed.xml", params={"items": 2, "title": TRICKY_TITLE})),
                        extract_flat=True)  # fmt: skip
    assert info["title"] == TRICKY_TITLE
    assert [e["title"] for e in info["entries"]] == [f"{TRICKY_TITLE} {i}" for i in (1, 2)]
    big = await http.get("/media/feed.xml", params={"items": 10_000})
    assert big.status_code == 200 and big.text.count("<item>") == 10_000


async def test_a_feed_item_downloads_as_its_own_media(sandbox_url: str, tmp_path: Path, sample_media: Path):
    info = await _ytdlp(f"{sandbox_url}/media/feed.xml?items=2", tmp_path / "dl")
    ids = [e["id"] for e in info["entries"]]
    assert ids == ["sandbox-feed-item-1", "sandbox-feed-item-2"]
    got = sorted((tmp_path / "dl").iterdir())
    assert [p.name for p in got] == ["sandbox-feed-item-1.mp4", "sandbox-feed-item-2.mp4"]
    assert all(p.read_bytes() == (sample_media / "sample.mp4").read_bytes() for p in got)


async def test_page_title_comes_from_the_query_literally(http: httpx.AsyncClient, sandbox_url: str):
    page = await http.get("/media/page.html", params={"title": TRICKY_TITLE})
    assert "<script>" not in page.text and "<fake-tag>" not in page.text
    info = await _ytdlp(str(httpx.URL(f"{sandbox_url}/media/page.html", params={"title": TRICKY_TITLE})))
    assert info["title"] == TRICKY_TITLE
    assert info["url"] == f"{sandbox_url}/media/sample.mp4"
    default = await _ytdlp(f"{sandbox_url}/media/page.html")
    assert default["title"] == "Sandbox sample video"
    long = await _ytdlp(str(httpx.URL(f"{sandbox_url}/media/page.html", params={"title": "../", "repeat": 1700})))
    assert long["title"] == "../" * 1700
    refused: list[dict[str, str | int]] = [{"title": "x" * 10_001}, {"title": "xy", "repeat": 5001}, {"repeat": 0},
                                           {"repeat": "x"}]  # fmt: skip
    for params in refused:
        assert (await http.get("/media/page.html", params=params)).status_code == 400
