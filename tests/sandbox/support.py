"""Helpers for the sandbox tests: a Bot API caller, a user-simulation caller, yt-dlp and ffprobe.
The sandbox itself is started by `tests.support.sandbox`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yt_dlp

from tests.support.poll import until

TOKEN = "123456:sandbox-test-token"
BOT_ID = 123456


class Api:
    """Calls the sandbox as the bot (Bot API) and as users (simulation API)."""

    def __init__(self, http: httpx.AsyncClient, token: str = TOKEN) -> None:
        self.http = http
        self.token = token

    async def call(self, method: str, files: dict[str, Any] | None = None, **params: Any) -> tuple[int, Any]:
        path = f"/bot{self.token}/{method}"
        if files is not None:
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
            resp = await self.http.post(path, data=form, files=files)
        else:
            resp = await self.http.post(path, json=params)
        return resp.status_code, resp.json()

    async def ok(self, method: str, files: dict[str, Any] | None = None, **params: Any) -> Any:
        status, body = await self.call(method, files, **params)
        assert status == 200 and body["ok"] is True, f"{method}: {status} {body}"
        assert set(body) == {"ok", "result"}
        return body["result"]

    async def fails(self, method: str, files: dict[str, Any] | None = None, **params: Any) -> tuple[int, str]:
        """(error_code, description) of a call that must fail; the body's shape is checked."""
        status, body = await self.call(method, files, **params)
        assert body["ok"] is False, f"{method} should fail: {body}"
        assert body["error_code"] == status
        assert set(body) <= {"ok", "error_code", "description", "parameters"}
        return status, body["description"]

    async def user(self, user_id: int, action: str, **body: Any) -> Any:
        resp = await self.http.post(f"/sandbox/users/{user_id}/{action}", json=body)
        assert resp.status_code == 200, f"{action}: {resp.status_code} {resp.text}"
        return resp.json()

    async def say(self, user_id: int, text: str, **profile: Any) -> int:
        """The user writes to the bot; returns the message id."""
        return int((await self.user(user_id, "messages", text=text, **profile))["message_id"])

    async def chat(self, user_id: int) -> dict[str, Any]:
        resp = await self.http.get(f"/sandbox/users/{user_id}/chat")
        assert resp.status_code == 200
        return dict(resp.json())

    async def config(self, **body: Any) -> dict[str, Any]:
        resp = await self.http.post("/sandbox/config", json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def stats(self) -> dict[str, Any]:
        return dict((await self.http.get("/sandbox/stats")).json())

    async def until_polls_waiting(self, count: int, deadline_s: float = 5.0) -> None:
        """Poll /sandbox/stats until `count` getUpdates calls are waiting in the sandbox."""

        async def waiting() -> bool:
            return bool((await self.stats())["polls_waiting"] == count)

        await until(f"{count} waiting getUpdates", waiting, deadline_s, interval=0.01)

    async def channel(self, username: str, *, bot_is_admin: bool = True, kind: str = "channel") -> dict[str, Any]:
        body = {"username": username, "type": kind, "title": username.strip("@").title(), "bot_is_admin": bot_is_admin}
        resp = await self.http.post("/sandbox/chats", json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["chat"])

    async def updates(self, offset: int | None = None, **params: Any) -> list[dict[str, Any]]:
        if offset is not None:
            params["offset"] = offset
        return list(await self.ok("getUpdates", **params))


YTDLP_BASE_OPTIONS = {"quiet": True, "no_warnings": True, "noprogress": True, "cachedir": False, "socket_timeout": 10}


def ytdlp(url: str, folder: Path | None = None, **options: Any) -> dict[str, Any]:
    """Real yt-dlp on a sandbox URL (blocking: run it in a thread): the sanitized info, downloading
    into `folder` when one is given."""
    opts = {**YTDLP_BASE_OPTIONS, **options}
    if folder is not None:
        opts["outtmpl"] = str(folder / "%(id)s.%(ext)s")
    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(url, download=folder is not None)
        return dict(ydl.sanitize_info(info))


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's streams and format of a file."""
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)]
    done = subprocess.run(argv, check=True, capture_output=True, timeout=30)
    return dict(json.loads(done.stdout))
