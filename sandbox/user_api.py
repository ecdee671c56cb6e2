"""`/sandbox/...`: acting as Telegram users, inspecting what they see, and steering the sandbox.

Errors answer `{"ok": false, "error": "..."}` with a 4xx status. Bodies are JSON objects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from sandbox.chatview import channel_view, chat_view, inline_view, user_view
from sandbox.context import Sandbox
from sandbox.inline_users import user_chooses, user_types
from sandbox.live_config import ConfigError
from sandbox.model import MEMBER_STATUSES
from sandbox.user_compose import field, post_user_message
from sandbox.world import SimulationError

log = logging.getLogger(__name__)

EVENT_PING_S = 15.0
MAX_BODY_BYTES = 1024 * 1024
Endpoint = Callable[[Request], Awaitable[Response]]


def ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"ok": True, **fields})


def problem(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": reason}, status_code=status)


def sandbox_of(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise SimulationError(413, "body too large")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise SimulationError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise SimulationError(400, "the body must be a JSON object")
    return body


def guarded(endpoint: Endpoint) -> Endpoint:
    """Turn a SimulationError into its JSON answer."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except SimulationError as exc:
            return problem(exc.status, exc.reason)

    return run


# ---- users ----


@guarded
async def user_messages(request: Request) -> Response:
    """The user writes to the bot; the body's fields are in `sandbox.user_compose`."""
    sb, user_id = sandbox_of(request), request.path_params["user_id"]
    msg = post_user_message(sb, user_id, await body_of(request))
    return ok(message_id=msg.message_id)


@guarded
async def user_callbacks(request: Request) -> Response:
    """`{"message_id": int, "data": str}`: the user presses the message's button with that data;
    with `"forged": true` the data need not be a button's (a modified client)."""
    sb, user_id = sandbox_of(request), request.path_params["user_id"]
    body = await body_of(request)
    forged = field(body, "forged", bool, required=False) or False
    query_id = sb.world.user_presses(user_id, field(body, "message_id", int), field(body, "data", str), forged)
    return ok(callback_query_id=query_id)


@guarded
async def user_inline(request: Request) -> Response:
    """Inline mode. `{"query": str, "chat_type": str, "first_name", ...}`: the user types `@bot <query>` (the bot gets
    an inline_query); answers `{"inline_query_id"}`. `{"result_id": str, "inline_query_id": str}`:
    the user chooses a result of the bot's answer (of their last query by default); it is sent to
    their target chat; answers `{"message_id", "inline_message_id"}` (null without a keyboard)."""
    sb, user_id = sandbox_of(request), request.path_params["user_id"]
    body = await body_of(request)
    if "result_id" in body:
        query_id = field(body, "inline_query_id", str, required=False)
        msg, inline_id = user_chooses(sb.world, user_id, field(body, "result_id", str), query_id)
        return ok(message_id=msg.message_id, inline_message_id=inline_id)
    chat_type = field(body, "chat_type", str, required=False) or "private"
    profile = {name: field(body, name, str, required=False) for name in ("first_name", "username", "language_code")}
    asked = user_types(sb.world, user_id, field(body, "query", str), chat_type, **profile)
    return ok(inline_query_id=asked.id)


async def user_inline_view(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse(inline_view(sb.world, request.path_params["user_id"], str(request.base_url).rstrip("/")))


@guarded
async def user_join(request: Request) -> Response:
    sb, user_id = sandbox_of(request), request.path_params["user_id"]
    chat = sb.world.channel(field(await body_of(request), "chat", str))
    sb.world.join(chat, user_id)
    return ok(status=chat.status_of(user_id))


@guarded
async def user_leave(request: Request) -> Response:
    sb, user_id = sandbox_of(request), request.path_params["user_id"]
    chat = sb.world.channel(field(await body_of(request), "chat", str))
    sb.world.set_member(chat, user_id, "left")
    return ok(status="left")


def _blocking(blocked: bool) -> Endpoint:
    @guarded
    async def run(request: Request) -> Response:
        sb, user_id = sandbox_of(request), request.path_params["user_id"]
        sb.world.set_blocked(user_id, blocked)
        return ok(blocked=blocked)

    return run


user_block, user_unblock = _blocking(True), _blocking(False)


async def user_chat(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse(chat_view(sb.world, request.path_params["user_id"], str(request.base_url).rstrip("/")))


async def users(request: Request) -> Response:
    world = sandbox_of(request).world
    return JSONResponse({"users": [user_view(world, user_id) for user_id in world.people]})


async def user_events(request: Request) -> Response:
    """Server-sent events: `event: chat` whenever the user's chat or blocked state changes."""
    user_id = request.path_params["user_id"]
    changes = sandbox_of(request).world.changes(user_id)
    data = json.dumps({"user_id": user_id})

    async def stream() -> AsyncIterator[str]:
        seen = changes.version
        yield ": connected\n\n"
        while True:
            if await changes.wait_after(seen, EVENT_PING_S):
                seen = changes.version
                yield f"event: chat\ndata: {data}\n\n"
            else:
                yield ": ping\n\n"

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# ---- chats ----


@guarded
async def chats_create(request: Request) -> Response:
    sb = sandbox_of(request)
    body = await body_of(request)
    chat = sb.world.create_chat(
        field(body, "username", str),
        body.get("type", "channel"),
        field(body, "title", str, required=False),
        bool(body.get("bot_is_admin", True)),
    )
    return ok(chat=channel_view(chat))


async def chats_list(request: Request) -> Response:
    world = sandbox_of(request).world
    chats = [channel_view(chat) for chat in world.chats.values() if chat.type != "private"]
    return JSONResponse({"chats": chats})


@guarded
async def chat_member_set(request: Request) -> Response:
    sb = sandbox_of(request)
    chat = sb.world.channel(request.path_params["username"])
    status = field(await body_of(request), "status", str)
    if status not in MEMBER_STATUSES:
        raise SimulationError(400, f"status must be one of {', '.join(MEMBER_STATUSES)}")
    sb.world.set_member(chat, request.path_params["user_id"], status)
    return ok(status=status)


# ---- the sandbox itself ----


async def stats(request: Request) -> Response:
    sb = sandbox_of(request)
    return JSONResponse({**sb.stats.to_json(sb.limiter.peak), "polls_waiting": sb.world.updates.waiting})


async def config_get(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).config.to_json())


@guarded
async def config_set(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        sb.config.apply(await body_of(request))
    except ConfigError as exc:
        return problem(400, str(exc))
    sb.config_changed()
    log.info("config now %s", sb.config.to_json())
    return JSONResponse(sb.config.to_json())


async def reset(request: Request) -> Response:
    sandbox_of(request).reset()
    log.info("reset: empty world, start configuration")
    return ok()


async def stored_file(request: Request) -> Response:
    stored = sandbox_of(request).files.get(request.path_params["file_id"])
    if stored is None or not stored.path.is_file():
        return problem(404, "no such file")
    return FileResponse(stored.path, media_type=stored.mime_type)
