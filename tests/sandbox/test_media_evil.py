"""The sandbox's hostile manifests: what an attacker controls in an HLS playlist (segment, key and
its method, init segment), a DASH manifest's segment, and a page's picture."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

import httpx
import trio

from tests.sandbox.support import ytdlp

YTDLP_DEADLINE_S = 60.0
TARGET = "httpproxy://127.0.0.1:6379/"  # never fetched here: the tests only read the manifests


async def test_evil_playlist_names_the_key_its_method_and_the_init_segment_given(http: httpx.AsyncClient):
    query = {"segment": "http://a.test/s.ts", "key": TARGET, "method": "SAMPLE-AES", "map": "tcp://b.test:1"}
    lines = (await http.get("/media/evil.m3u8", params=query)).text.splitlines()
    assert f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{TARGET}",IV=0x{"00" * 16}' in lines
    assert '#EXT-X-MAP:URI="tcp://b.test:1"' in lines and "#EXT-X-VERSION:6" in lines
    assert lines.index('#EXT-X-MAP:URI="tcp://b.test:1"') < lines.index("http://a.test/s.ts")
    plain = (await http.get("/media/evil.m3u8", params={"segment": "http://a.test/s.ts", "key": TARGET})).text
    assert "METHOD=AES-128" in plain and "#EXT-X-MAP" not in plain  # the default method; no init
    ffmpeg_spelling = "subfile,,start,0,end,0,,:http://a.test/s.ts"
    assert ffmpeg_spelling in (await http.get("/media/evil.m3u8", params={"segment": ffmpeg_spelling})).text


async def test_evil_playlist_refuses_what_it_cannot_write(http: httpx.AsyncClient):
    for bad in (
        {"segment": "http://a.test/s.ts", "method": "AES-128"},  # a method needs a key
        {"segment": "http://a.test/s.ts", "key": TARGET, "method": "CLEAR"},
        {"segment": "http://a.test/s.ts", "key": 'http://x/"quoted"'},
        {"segment": "http://a.test/s.ts", "map": "relative.mp4"},
        {"key": TARGET},
    ):
        assert (await http.get("/media/evil.m3u8", params=bad)).status_code == 400, bad


async def test_evil_mpd_is_a_dash_manifest_whose_one_segment_is_where_asked(sandbox_url: str, http: httpx.AsyncClient):
    target = "http://169.254.169.254/latest/meta-data/&<x>"
    answer = await http.get("/media/evil.mpd", params={"segment": target})
    assert answer.headers["content-type"].startswith("application/dash+xml")
    assert 'media="http://169.254.169.254/latest/meta-data/&amp;&lt;x&gt;"' in answer.text
    for bad in ("", "relative.m4s", "http://x/\nnext"):
        assert (await http.get("/media/evil.mpd", params={"segment": bad})).status_code == 400, bad
    with trio.fail_after(YTDLP_DEADLINE_S):
        url = f"{sandbox_url}/media/evil.mpd?{urlencode({'segment': target})}"
        info = await trio.to_thread.run_sync(partial(ytdlp, url))
    [fmt] = info["formats"]
    assert fmt["protocol"] == "http_dash_segments" and fmt["fragments"][0].get("url") == target


async def test_a_page_shows_the_picture_it_is_given(http: httpx.AsyncClient):
    page = (await http.get("/media/page.html", params={"thumbnail": "http://127.0.0.1:1/t.jpg?a=1&b=2"})).text
    assert '<meta property="og:image" content="http://127.0.0.1:1/t.jpg?a=1&amp;b=2">' in page
    assert "/media/thumb.jpg" in (await http.get("/media/page.html")).text
    assert (await http.get("/media/page.html", params={"thumbnail": "no-scheme.jpg"})).status_code == 400
