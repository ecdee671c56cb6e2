"""What the `/media/` routes share: reading their query arguments, their 400 answer, the base URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def int_arg(request: Request, name: str, lo: int, hi: int, default: int | None = None) -> int | None:
    """The whole number `name` of the query if it is within [lo, hi] (`default` when absent), else None."""
    raw = request.query_params.get(name, "")
    if not raw and default is not None:
        return default
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def number_arg(request: Request, name: str, hi: float) -> float | None:
    """The number `name` of the query if it is above 0 and at most `hi`, else None."""
    try:
        value = float(request.query_params.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value <= hi else None


def bad(reason: str) -> Response:
    return JSONResponse({"ok": False, "error": reason}, status_code=400)


def base_url(request: Request) -> str:
    """`http://host:port` of this sandbox as the client reached it, for absolute URLs."""
    return str(request.base_url).rstrip("/")
