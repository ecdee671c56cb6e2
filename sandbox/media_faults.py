"""Media routes that fail the way video sites and CDNs fail.

- `status?code=N`: that HTTP status (403, 404, 410, 429, 451 or 500; any other code is a 400) with
  a small error page like a platform's, HTML or, with `format=json`, JSON; 429 adds Retry-After.
- `flaky?fail=K&key=X`: a 503 for the first K requests with key X, then sample.mp4 (with Range).
  The count per key lives in the sandbox's memory; POST /sandbox/reset forgets it.
- `drop?after=B`: headers promising all of sample.mp4, its first B bytes, then the connection cut.
  Every request is cut, Range or not, so a download through it never completes.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from sandbox.drop import CutBody
from sandbox.media_args import bad, int_arg

log = logging.getLogger(__name__)

SAMPLE = "sample.mp4"
SAMPLE_TYPE = "video/mp4"
RETRY_AFTER_S = 30
MAX_FLAKY_FAILURES = 1000
MAX_KEY_CHARS = 100
DEFAULT_KEY = "default"
ERROR_PAGES = {
    403: ("Forbidden", "You don't have permission to watch this video."),
    404: ("Not Found", "This video isn't available anymore."),
    410: ("Gone", "This video has been removed by the uploader."),
    429: ("Too Many Requests", "You are sending too many requests. Please try again later."),
    451: ("Unavailable For Legal Reasons", "This content isn't available in your country."),
    500: ("Internal Server Error", "Something went wrong on our side. Please try again."),
}
UNAVAILABLE = (503, "Service Unavailable", "The server is temporarily busy. Please try again.")


def _error_page(request: Request, code: int, reason: str, detail: str) -> Response:
    headers = {"retry-after": str(RETRY_AFTER_S)} if code == 429 else {}
    if request.query_params.get("format") == "json":
        body = {"error": {"code": code, "status": reason, "message": detail}}
        return JSONResponse(body, status_code=code, headers=headers)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{code} {escape(reason)}</title></head>"
        f"<body><h1>{code} {escape(reason)}</h1><p>{escape(detail)}</p></body></html>\n"
    )
    return HTMLResponse(html, status_code=code, headers=headers)


def _sample(request: Request) -> Path | None:
    path: Path = request.app.state.sandbox.media_dir / SAMPLE
    return path if path.is_file() else None


def _no_sample() -> Response:
    return JSONResponse({"ok": False, "error": f"no media {SAMPLE!r}"}, status_code=404)


def status(request: Request) -> Response:
    code = int_arg(request, "code", 0, 999)
    if code not in ERROR_PAGES:
        return bad(f"code must be one of {', '.join(map(str, ERROR_PAGES))}")
    return _error_page(request, code, *ERROR_PAGES[code])


def flaky(request: Request) -> Response:
    fail = int_arg(request, "fail", 0, MAX_FLAKY_FAILURES)
    key = request.query_params.get("key") or DEFAULT_KEY
    if fail is None or len(key) > MAX_KEY_CHARS:
        return bad(f"fail must be a whole number up to {MAX_FLAKY_FAILURES}; key at most {MAX_KEY_CHARS} characters")
    counts = request.app.state.sandbox.flaky
    counts[key] += 1
    if counts[key] <= fail:
        return _error_page(request, *UNAVAILABLE)
    path = _sample(request)
    return FileResponse(path, media_type=SAMPLE_TYPE) if path else _no_sample()


def drop(request: Request) -> Response:
    path = _sample(request)
    if path is None:
        return _no_sample()
    data = path.read_bytes()
    after = int_arg(request, "after", 0, len(data) - 1)
    if after is None:
        return bad(f"after must be a whole number of bytes below {len(data)}, the sample's size")
    if request.method == "HEAD":
        return Response(status_code=200, headers={"content-length": str(len(data))}, media_type=SAMPLE_TYPE)
    log.info("media drop: cutting the connection after %d of %d bytes", after, len(data))
    return CutBody(data[:after], len(data), SAMPLE_TYPE)
