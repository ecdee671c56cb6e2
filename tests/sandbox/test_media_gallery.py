"""`/media/gallery.html`: an image post gallery-dl's generic extractor reads, in a stable order of
JPEG and PNG pictures (each its own size) and videos, with the post's text; yt-dlp finds no video
on it (so the bot turns to its second engine)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import trio
import yt_dlp

from downloader import media
from sandbox.media_gallery import GALLERY_IMAGES, gallery_items
from tests.sandbox.support import ytdlp

LINK = re.compile(r'<a href="([^"]+)"')


async def test_items_alternate_image_and_video_then_the_rest_each_at_its_own_url(
    http: httpx.AsyncClient, sandbox_url: str
) -> None:
    text = "پستی با <سه> عکس & یک ویدیو"
    page = await http.get(f"/media/gallery.html?images=3&videos=1&text={quote(text)}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = LINK.findall(page.text)
    assert links == [
        f"{sandbox_url}/media/gallery_1.jpg?item=1",
        f"{sandbox_url}/media/sample.mp4?item=2",
        f"{sandbox_url}/media/gallery_2.png?item=3",
        f"{sandbox_url}/media/gallery_3.jpg?item=4",
    ]
    assert '<meta property="og:description" content="پستی با &lt;سه&gt; عکس &amp; یک ویدیو">' in page.text
    assert "<video" not in page.text and "<script" not in page.text
    for link in links:
        served = await http.get(link)
        assert served.status_code == 200 and served.content


def test_the_order_is_stable_and_cycles_through_the_samples() -> None:
    items = gallery_items(8, 3)
    assert [kind for kind, _ in items] == ["image", "video"] * 3 + ["image"] * 5
    assert [name for kind, name in items if kind == "video"] == ["sample.mp4", "sample.webm", "sample.mp4"]
    assert [name for kind, name in items if kind == "image"][6:] == [GALLERY_IMAGES[0].name, GALLERY_IMAGES[1].name]


def test_the_pictures_are_jpeg_and_png_of_their_stated_sizes(sample_media: Path) -> None:
    for image in GALLERY_IMAGES:
        path = sample_media / image.name
        head = path.read_bytes()[:8]
        assert head.startswith(b"\xff\xd8\xff" if image.name.endswith(".jpg") else b"\x89PNG")
        found = media.inspect(path)
        assert found.picture and (found.width, found.height) == (image.width, image.height)


async def test_extras_are_pictures_after_the_items(http: httpx.AsyncClient) -> None:
    page = await http.get("/media/gallery.html", params=[("images", "1"), ("extra", "http://10.0.0.1/a.jpg?x=1&y=2")])
    assert '<img src="http://10.0.0.1/a.jpg?x=1&y=2" alt="">' in page.text


@pytest.mark.parametrize(
    "query", ["images=101", "images=60&videos=41", "videos=x", "extra=notaurl", "text=" + "a" * 4001]
)
async def test_bad_arguments_are_refused(http: httpx.AsyncClient, query: str) -> None:
    assert (await http.get(f"/media/gallery.html?{query}")).status_code == 400


async def test_ytdlp_finds_no_video_on_a_gallery(sandbox_url: str) -> None:
    with trio.fail_after(60), pytest.raises(yt_dlp.utils.DownloadError, match="Unsupported URL"):
        await trio.to_thread.run_sync(partial(ytdlp, f"{sandbox_url}/media/gallery.html?images=2&videos=2"))
