"""The botapi side of the contract suite: the real sandbox over HTTP, driven as users would.

`botapi_env(tmp_path)` starts a sandbox on port 0 (served from the test's own trio loop, or with
`as_child=True` as a `python -m sandbox` child, `tests.support.sandbox`), turns its limits
off (the suite checks behaviour, not pacing; FloodWait is forced explicitly) and yields a
`BotApiEnv` whose `world` acts through the sandbox's user-simulation API and whose `make_port()`
builds fresh adapters to the same sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from core.config import Settings, load_settings
from core.telegram.botapi import BotApiAdapter
from core.telegram.port import MemberStatus, TelegramPort
from tests.contract.world import ChatRecord
from tests.support.sandbox import in_process_sandbox, running_sandbox

TOKEN = "424242:contract-suite-token"
HTTP_TIMEOUT = 10.0  # seconds for one simulation-API call
UPLOAD_LIMIT_MB = 2000  # as the sandbox's default cap


class SandboxWorld:
    """`World` over the sandbox's user-simulation API (`/sandbox/...`)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(path, json=body or {})
        assert response.status_code == 200, f"POST {path}: {response.status_code} {response.text}"
        result: dict[str, Any] = response.json()
        return result

    async def user_message(
        self, user_id: int, text: str, *, language_code: str = "en", reply_to: int | None = None
    ) -> int:
        body: dict[str, Any] = {"text": text, "first_name": f"User{user_id}", "language_code": language_code}
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        return int((await self._post(f"/sandbox/users/{user_id}/messages", body))["message_id"])

    async def user_callback(self, user_id: int, message_id: int, data: str) -> str:
        body = {"message_id": message_id, "data": data}
        return str((await self._post(f"/sandbox/users/{user_id}/callbacks", body))["callback_query_id"])

    async def block(self, user_id: int) -> None:
        await self._post(f"/sandbox/users/{user_id}/block")

    async def create_channel(self, username: str, *, bot_is_admin: bool = True) -> None:
        name = "@" + username.lstrip("@")
        body = {"username": name, "type": "channel", "title": name[1:], "bot_is_admin": bot_is_admin}
        await self._post("/sandbox/chats", body)

    async def set_member(self, channel: str, user_id: int, status: MemberStatus) -> None:
        await self._post(f"/sandbox/chats/{channel.lstrip('@')}/members/{user_id}", {"status": status})

    async def chat(self, user_id: int) -> list[ChatRecord]:
        response = await self.http.get(f"/sandbox/users/{user_id}/chat")
        assert response.status_code == 200, f"chat of {user_id}: {response.status_code} {response.text}"
        return [_record(m) for m in response.json()["messages"]]

    async def force_flood(self, retry_after: int) -> None:
        await self._post("/sandbox/config", {"faults": {"flood_next": 1, "flood_retry_after": retry_after}})

    async def inline_query(self, user_id: int, query: str) -> str:
        body = {"query": query, "first_name": f"User{user_id}"}
        return str((await self._post(f"/sandbox/users/{user_id}/inline", body))["inline_query_id"])

    async def _inline(self, user_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/sandbox/users/{user_id}/inline")
        assert response.status_code == 200, f"inline of {user_id}: {response.status_code} {response.text}"
        found: dict[str, Any] = response.json()
        return found

    async def inline_results(self, user_id: int) -> list[str]:
        query = (await self._inline(user_id))["query"]
        return [r["id"] for r in query["results"]] if query and query["answered"] else []

    async def choose_inline_result(self, user_id: int, result_id: str) -> str | None:
        chosen = await self._post(f"/sandbox/users/{user_id}/inline", {"result_id": result_id})
        inline_id: str | None = chosen["inline_message_id"]
        return inline_id

    async def target_chat(self, user_id: int) -> list[ChatRecord]:
        return [_record(m) for m in (await self._inline(user_id))["target"]["messages"]]

    # ---- faults (tests/contract/test_faults.py) ----

    async def break_link(self, how: Literal["server_error", "drop"]) -> None:
        fault = {"fail_rate": 1.0, "fail_status": 502} if how == "server_error" else {"drop_rate": 1.0}
        await self._post("/sandbox/config", {"faults": fault})

    async def heal_link(self) -> None:
        await self._post("/sandbox/config", {"faults": {"fail_rate": 0.0, "drop_rate": 0.0}})

    async def cap_uploads(self, max_bytes: int) -> None:
        mib = 1024 * 1024
        assert max_bytes % mib == 0, "the sandbox caps uploads in whole MiB"
        await self._post("/sandbox/config", {"limits": True, "upload_limit_mb": max_bytes // mib})


def _record(m: dict[str, Any]) -> ChatRecord:
    media = m.get("media") or {}
    markup = m.get("reply_markup") or {}
    return ChatRecord(
        message_id=int(m["message_id"]),
        from_bot=m["from"] == "bot",
        text=m.get("text") or m.get("caption") or "",
        edit_count=int(m.get("edit_count") or 0),
        deleted=bool(m.get("deleted")),
        media_kind=media.get("kind"),
        media_sha256=media.get("sha256"),
        media_size=media.get("size"),
        has_thumbnail=bool(media.get("has_thumbnail")),
        has_keyboard=bool(markup.get("inline_keyboard")),
        media_group_id=m.get("media_group_id"),
        start_timestamp=media.get("start_timestamp"),
        via_bot=bool(m.get("via_bot")),
    )


@dataclass
class BotApiEnv:
    world: SandboxWorld
    settings: Settings
    url: str
    http: httpx.AsyncClient  # the simulation API, for botapi-only checks (stats, faults)

    def make_port(self) -> TelegramPort:
        return BotApiAdapter(self.settings, role="gateway")


def settings_for(url: str, data_dir: Path, **overrides: str) -> Settings:
    environ = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_BACKEND": "botapi",
        "BOTAPI_URL": url,
        "BOTAPI_UPLOAD_LIMIT_MB": str(UPLOAD_LIMIT_MB),
        "DATA_DIR": str(data_dir),
        **overrides,
    }
    return load_settings(environ=environ, env_file=None)


@asynccontextmanager
async def botapi_env(
    tmp_path: Path, *, media_dir: Path | None = None, as_child: bool = False
) -> AsyncIterator[BotApiEnv]:
    """The sandbox (in this process, or as a `python -m sandbox` child) with its limits off.

    Sample media are cached in `media_dir`, by default beside `tmp_path` so that the tests of one
    pytest run share them.
    """
    server = (
        running_sandbox(tmp_path / "sandbox")
        if as_child
        else in_process_sandbox(tmp_path / "sandbox", media_dir or tmp_path.parent / "sandbox-media")
    )
    async with (
        server as url,
        httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT, trust_env=False) as http,
    ):
        world = SandboxWorld(http)
        await world._post("/sandbox/config", {"limits": False})
        yield BotApiEnv(world, settings_for(url, tmp_path / "bot"), url, http)
