"""`/` and `/static/...`: the web chat page from sandbox/web/ (or a short placeholder without it)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

WEB_DIR = Path(__file__).resolve().parent / "web"
PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>Sandbox</title></head>
<body><h1>Telegram sandbox</h1><p>The web chat (sandbox/web/index.html) is not installed.
The Bot API answers under <code>/bot&lt;token&gt;/&lt;method&gt;</code>; users are simulated under
<code>/sandbox/</code>; sample media are under <a href="/media/sample.mp4">/media/</a>.</p></body></html>
"""


async def index(request: Request) -> Response:
    page = WEB_DIR / "index.html"
    if page.is_file():
        return FileResponse(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"})
    return HTMLResponse(PLACEHOLDER)
