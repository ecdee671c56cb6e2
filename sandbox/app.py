"""The sandbox's HTTP routes, in one table."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox import user_api
from sandbox.botapi import bot_endpoint, bot_not_found
from sandbox.context import Sandbox
from sandbox.media_routes import media_endpoint
from sandbox.webpage import WEB_DIR, index

GET, POST, GET_HEAD = ["GET"], ["POST"], ["GET", "HEAD"]
USER = "/sandbox/users/{user_id:int}"


async def not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/bot"):
        return await bot_not_found(request)
    return JSONResponse({"ok": False, "error": "not found"}, status_code=404)


def routes() -> list[Route | Mount]:
    return [
        Route("/bot{token}/{method}", bot_endpoint, methods=["GET", "POST"]),
        Route(f"{USER}/messages", user_api.user_messages, methods=POST),
        Route(f"{USER}/callbacks", user_api.user_callbacks, methods=POST),
        Route(f"{USER}/inline", user_api.user_inline, methods=POST),
        Route(f"{USER}/inline", user_api.user_inline_view, methods=GET),
        Route(f"{USER}/join", user_api.user_join, methods=POST),
        Route(f"{USER}/leave", user_api.user_leave, methods=POST),
        Route(f"{USER}/block", user_api.user_block, methods=POST),
        Route(f"{USER}/unblock", user_api.user_unblock, methods=POST),
        Route(f"{USER}/chat", user_api.user_chat, methods=GET),
        Route(f"{USER}/events", user_api.user_events, methods=GET),
        Route("/sandbox/users", user_api.users, methods=GET),
        Route("/sandbox/chats", user_api.chats_create, methods=POST),
        Route("/sandbox/chats", user_api.chats_list, methods=GET),
        Route("/sandbox/chats/{username}/members/{user_id:int}", user_api.chat_member_set, methods=POST),
        Route("/sandbox/stats", user_api.stats, methods=GET),
        Route("/sandbox/config", user_api.config_get, methods=GET),
        Route("/sandbox/config", user_api.config_set, methods=POST),
        Route("/sandbox/reset", user_api.reset, methods=POST),
        Route("/sandbox/files/{file_id}", user_api.stored_file, methods=GET_HEAD),
        Route("/media/{name}", media_endpoint, methods=GET_HEAD),
        Route("/", index, methods=GET_HEAD),
        Mount("/static", app=StaticFiles(directory=WEB_DIR, check_dir=False), name="static"),
    ]


def build_app(sandbox: Sandbox) -> Starlette:
    app = Starlette(routes=routes(), exception_handlers={404: not_found})
    app.state.sandbox = sandbox
    return app
