"""Documents under `/media/` that point at the samples, rendered per request with absolute URLs.

- `page.html?title=T&repeat=N&thumbnail=URL`: a page with Open Graph tags for sample.mp4; its
  title (og:title, <title> and the heading) is T repeated N times (default 1; a title of thousands
  of characters from a short link), HTML-escaped, so any text comes out literally; without T the
  default. Its picture (og:image) is the absolute URL `thumbnail=`, whatever it
  points at, or the sandbox's thumb.jpg.
  It has no <video> element: yt-dlp's html5 embed extractor would win over og:video and number
  the title ("T (1)").
- `feed.xml?items=N&title=T&repeat=R`: an RSS 2.0 feed of N items ("Item 1" ... "Item N", in
  order), each with a guid and an enclosure at its own URL (`sample.mp4?item=i`), so each item is
  a distinct media. With T (repeated R times, as for the page) the feed's title is T and its items
  are "T 1" ... "T N", escaped as XML, literally; without it "Sandbox feed".
  `tag=T` goes into every item's URL (`&tag=T`: feeds of different tags are different media);
  `rate=B` makes each item a slow download (`slow?rate=B&size=<the sample's size>`) instead.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sandbox.media_args import bad, base_url, int_arg

DEFAULT_TITLE = "Sandbox sample video"
DEFAULT_FEED_TITLE = "Sandbox feed"
MAX_TITLE_CHARS = 10_000  # after repeating
MAX_TITLE_REPEAT = 10_000
DEFAULT_FEED_ITEMS = 3
MAX_FEED_ITEMS = 10_000
MAX_FEED_RATE = 1024**3
FEED_TYPE = "application/rss+xml; charset=utf-8"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="og:type" content="video.other">
<meta property="og:video" content="{base}/media/sample.mp4">
<meta property="og:video:url" content="{base}/media/sample.mp4">
<meta property="og:video:type" content="video/mp4">
<meta property="og:video:width" content="320">
<meta property="og:video:height" content="240">
<meta property="og:image" content="{thumbnail}">
</head><body><h1>{title}</h1>
<p><a href="/media/sample.mp4">sample.mp4</a></p>
</body></html>
"""

FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>{title}</title>
<link>{base}/media/feed.xml</link>
<description>{count} sample items</description>
"""
FEED_ITEM = """<item>
<title>{item_title}</title>
<link>{base}/media/{media}item={i}{tag}</link>
<guid isPermaLink="false">sandbox-feed-item-{i}{tag}</guid>
<enclosure url="{base}/media/{media}item={i}{tag}" length="{size}" type="video/mp4"/>
</item>
"""
FEED_TAIL = "</channel>\n</rss>\n"


def title_arg(request: Request, default: str) -> str | None:
    """The query's `title` repeated `repeat` times (the default without a title); None when too long."""
    repeat = int_arg(request, "repeat", 1, MAX_TITLE_REPEAT, default=1)
    title = (request.query_params.get("title") or default) * (repeat or 0)
    return title if repeat is not None and len(title) <= MAX_TITLE_CHARS else None


def page(request: Request) -> Response:
    title = title_arg(request, DEFAULT_TITLE)
    if title is None:
        return bad(f"title must be at most {MAX_TITLE_CHARS} characters, repeat from 1 to {MAX_TITLE_REPEAT}")
    thumbnail = request.query_params.get("thumbnail") or f"{base_url(request)}/media/thumb.jpg"
    if "://" not in thumbnail or not thumbnail.isprintable():
        return bad("thumbnail must be an absolute URL on one line")
    base = escape(base_url(request))
    return HTMLResponse(PAGE.format(base=base, title=escape(title, quote=True), thumbnail=escape(thumbnail)))


def feed(request: Request) -> Response:
    count = int_arg(request, "items", 0, MAX_FEED_ITEMS) if "items" in request.query_params else DEFAULT_FEED_ITEMS
    if count is None:
        return bad(f"items must be a whole number from 0 to {MAX_FEED_ITEMS}")
    titled = "title" in request.query_params
    title = title_arg(request, DEFAULT_FEED_TITLE)
    if title is None:
        return bad(f"title must be at most {MAX_TITLE_CHARS} characters, repeat from 1 to {MAX_TITLE_REPEAT}")
    rate = int_arg(request, "rate", 1, MAX_FEED_RATE) if "rate" in request.query_params else None
    if "rate" in request.query_params and rate is None:
        return bad(f"rate must be a whole number of bytes/s from 1 to {MAX_FEED_RATE}")
    base = escape(base_url(request))
    sample: Path = request.app.state.sandbox.media_dir / "sample.mp4"
    size = sample.stat().st_size if sample.is_file() else 0
    media = f"slow?rate={rate}&amp;size={size}&amp;" if rate else "sample.mp4?"
    tag = request.query_params.get("tag", "")
    shown_tag = f"&amp;tag={escape(quote(tag))}" if tag else ""
    items = "".join(
        FEED_ITEM.format(
            base=base,
            i=i,
            size=size,
            media=media,
            tag=shown_tag,
            item_title=escape(f"{title} {i}" if titled else f"Item {i}"),
        )
        for i in range(1, count + 1)
    )
    head = FEED_HEAD.format(base=base, count=count, title=escape(title))
    return Response(head + items + FEED_TAIL, media_type=FEED_TYPE)
