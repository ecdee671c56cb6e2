"""Image posts under `/media/`: `gallery.html`, a post of images and videos that gallery-dl's
generic extractor reads, and the pictures it shows (made by `sandbox.media`).

`gallery.html?images=N&videos=M&text=T&extra=URL`: a post of N images and M videos, in a stable
order: an image, a video, an image, a video... while both last, then the rest. Image k (1-based,
among the images) is `gallery_<j>.<ext>?item=<i>`, cycling through the GALLERY_IMAGES samples
(JPEG and PNG in turn, each its own size); video k is sample.mp4 (k odd) or sample.webm (k even),
with `?item=<i>`; i is the item's place in the post, so every item has its own URL. The post's
text T (HTML-escaped; a default names the counts) is its og:description and description.

Every item is a plain link, in the post's order, which is the order gallery-dl's generic extractor
finds them in (it reads links by their extension); none is a <video>, so yt-dlp finds no video on
the page. Each `extra=URL` (repeatable, any absolute URL) is an <img src> after the items: gallery-dl
reads src attributes first, so extras come before the items in what it finds (tests point them at
places the egress guard must refuse).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sandbox.media_args import bad, base_url, int_arg

MAX_GALLERY_ITEMS = 100
MAX_TEXT_CHARS = 4000
MAX_EXTRAS = 10


@dataclass(frozen=True)
class GalleryImage:
    name: str  # the sample's file name
    width: int
    height: int


GALLERY_IMAGES = (
    GalleryImage("gallery_1.jpg", 320, 240),
    GalleryImage("gallery_2.png", 240, 320),
    GalleryImage("gallery_3.jpg", 400, 300),
    GalleryImage("gallery_4.png", 300, 300),
    GalleryImage("gallery_5.jpg", 480, 270),
    GalleryImage("gallery_6.png", 270, 480),
)
VIDEOS = ("sample.mp4", "sample.webm")

PAGE = """<!doctype html>
<html lang="fa" dir="auto"><head><meta charset="utf-8">
<title>Sandbox gallery</title>
<meta property="og:title" content="Sandbox gallery">
<meta property="og:type" content="article">
<meta property="og:description" content="{text}">
<meta name="description" content="{text}">
</head><body><article>
<p>{text}</p>
<ol>
{items}</ol>
{extras}</article></body></html>
"""


def gallery_items(images: int, videos: int) -> list[tuple[str, str]]:
    """(kind, sample name) of each item of a post, in its order."""
    order: list[tuple[str, int]] = []
    shown_images = shown_videos = 0
    while shown_images < images or shown_videos < videos:
        if shown_images < images:
            order.append(("image", shown_images))
            shown_images += 1
        if shown_videos < videos:
            order.append(("video", shown_videos))
            shown_videos += 1
    return [
        ("image", GALLERY_IMAGES[k % len(GALLERY_IMAGES)].name) if kind == "image" else ("video", VIDEOS[k % 2])
        for kind, k in order
    ]


def _attribute(url: str) -> str:
    """A URL in a quoted attribute, its `&` left as it is: gallery-dl's generic extractor takes an
    attribute's text as the URL without unescaping it (as browsers read `&` there too)."""
    return url.replace('"', "%22").replace("<", "%3C").replace(">", "%3E")


def gallery(request: Request) -> Response:
    images = int_arg(request, "images", 0, MAX_GALLERY_ITEMS, default=3)
    videos = int_arg(request, "videos", 0, MAX_GALLERY_ITEMS, default=0)
    if images is None or videos is None or images + videos > MAX_GALLERY_ITEMS:
        return bad(f"images and videos are whole numbers, {MAX_GALLERY_ITEMS} items at most")
    text = request.query_params.get("text") or f"A post of {images} images and {videos} videos"
    if len(text) > MAX_TEXT_CHARS:
        return bad(f"text is longer than {MAX_TEXT_CHARS} characters")
    extras = request.query_params.getlist("extra")
    if len(extras) > MAX_EXTRAS or any("://" not in url or not url.isprintable() for url in extras):
        return bad(f"extra is an absolute URL on one line, {MAX_EXTRAS} at most")
    base = escape(base_url(request))
    rows = "".join(
        f'<li><a href="{base}/media/{name}?item={i}">{kind} {i}</a></li>\n'
        for i, (kind, name) in enumerate(gallery_items(images, videos), 1)
    )
    pictures = "".join(f'<img src="{_attribute(url)}" alt="">\n' for url in extras)
    return HTMLResponse(PAGE.format(text=escape(text, quote=True), items=rows, extras=pictures))
