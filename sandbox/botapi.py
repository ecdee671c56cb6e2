"""`/bot<token>/<method>`: the Bot API endpoint, with Telegram's answers and injected faults.

Any token of the form `<digits>:<key>` is accepted and its digits are the bot's id; a malformed
token gets 401, an unknown method 404. Method names are case-insensitive, as on Telegram.
Faults apply after the request body is read: a dropped connection, a 5xx, a 429 for chosen
methods, added latency.

A call counts as Telegram counts it: once it has completed. A client that goes away before that
(half way through an upload, or during the added latency, while the call is still on its way)
has sent nothing that counts: the call is not carried out, and `/sandbox/stats` counts it under
`abandoned`. A call that completed is carried out even when nobody reads the answer.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import trio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from sandbox import methods_chat, methods_inline, methods_input_media, methods_media, methods_text, methods_updates
from sandbox.context import Sandbox
from sandbox.drop import drop_connection
from sandbox.errors import ApiError, flood_wait, not_found, server_error, unauthorized
from sandbox.live_config import Faults
from sandbox.methods_text import Handler
from sandbox.params import Params, cleanup, ensure_no_oversized, read_params

log = logging.getLogger(__name__)

TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,128}$")
HANDLERS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for table in (
        methods_text.METHODS,
        methods_media.METHODS,
        methods_input_media.METHODS,
        methods_inline.METHODS,
        methods_chat.METHODS,
        methods_updates.METHODS,
    )
    for name, handler in table.items()
}


def json_response(status: int, body: dict[str, Any]) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, media_type="application/json")


def _answer(sb: Sandbox, status: int, body: dict[str, Any]) -> Response:
    sb.stats.responses[status] += 1
    return json_response(status, body)


def _error(sb: Sandbox, error: ApiError) -> Response:
    return _answer(sb, error.code, error.body())


def _hits(rate: float, methods: list[str], method: str, sb: Sandbox) -> bool:
    if rate <= 0 or (methods and method.lower() not in {m.lower() for m in methods}):
        return False
    return rate >= 1 or sb.rng.random() < rate


async def _arrive(request: Request, delay_s: float) -> None:
    """The added latency: the call is still on its way. ClientDisconnect if the client goes away
    meanwhile (the body is read: the next ASGI message can only be the disconnect)."""
    with trio.move_on_after(delay_s):
        while (await request.receive())["type"] != "http.disconnect":
            pass
        raise ClientDisconnect()


async def _inject(sb: Sandbox, faults: Faults, method: str, request: Request) -> Response | None:
    """A fault's response (or None to go on), after any added latency."""
    if _hits(faults.drop_rate, faults.drop_methods, method, sb):
        sb.stats.faults["dropped"] += 1
        log.info("fault: dropping the connection of %s", method)
        return drop_connection()
    if _hits(faults.fail_rate, faults.fail_methods, method, sb):
        sb.stats.faults["failed"] += 1
        return _error(sb, server_error(faults.fail_status))
    if method.lower() in {m.lower() for m in faults.flood_methods}:
        sb.stats.faults["forced_floods"] += 1
        sb.stats.flood_waits += 1
        return _error(sb, flood_wait(faults.flood_retry_after))
    if faults.latency_ms > 0 and _hits(1.0, faults.latency_methods, method, sb):
        sb.stats.faults["delayed"] += 1
        await _arrive(request, faults.latency_ms / 1000)
    return None


async def bot_endpoint(request: Request) -> Response:
    sb: Sandbox = request.app.state.sandbox
    token, asked = request.path_params["token"], request.path_params["method"]
    name, handler = HANDLERS.get(asked.lower(), (asked, None))
    sb.stats.requests[name] += 1
    match = TOKEN.match(token)
    if match is None:
        return _error(sb, unauthorized())
    if handler is None:
        return _error(sb, not_found())
    sb.world.bot_id = int(match.group(1))
    params: Params | None = None
    try:
        params, file_bytes = await read_params(
            request, sb.files.incoming, sb.config.upload_limit_bytes, sb.config.faults.upload_rate
        )
        sb.stats.bytes_uploaded += file_bytes
        faulty = await _inject(sb, sb.config.faults, name, request)
        if faulty is not None:
            return faulty
        ensure_no_oversized(params)
        result = await handler(sb, params)
        return _answer(sb, 200, {"ok": True, "result": result})
    except ApiError as error:
        return _error(sb, error)
    except ClientDisconnect:
        sb.stats.abandoned[name] += 1
        log.info("%s: the client went away before the call completed: not carried out", name)
        return Response(status_code=400)
    except Exception:
        log.exception("%s failed inside the sandbox", name)
        return _error(sb, server_error(500))
    finally:
        if params is not None:
            cleanup(params)


async def bot_not_found(request: Request) -> Response:
    """`/bot<token>` paths with no method, like Telegram's answer to them."""
    sb: Sandbox = request.app.state.sandbox
    return _error(sb, not_found())
