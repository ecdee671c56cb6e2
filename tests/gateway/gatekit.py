"""A gateway with its gates against a real SQLite file, and a port whose getChatMember answers
from a table (the only fake: Telegram). Shared by the tests of the gates, locks, limits and admin
commands, and by bench/bench_gates.py."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from core.callback_data import CallbackCodec
from core.config import Settings, load_settings
from core.db import open_db
from core.runtime_limits import RuntimeLimits
from core.telegram import (
    BadRequest,
    CallbackQuery,
    Chat,
    ChatMemberChange,
    ChatNotFound,
    FloodWait,
    IncomingMessage,
    User,
)
from gateway.gates import Gates
from gateway.main import build_router

ADMIN = 4242


class MemberPort:
    """getChatMember from `members[(chat, user)]` ("left" when absent); `broken` chats answer as
    Telegram does when the bot is not an admin there; while `flood` is set every question gets a
    FloodWait of that many seconds; `calls` counts the questions per chat."""

    def __init__(self) -> None:
        self.members: dict[tuple[int | str, int], str] = {}
        self.broken: set[int | str] = set()
        self.missing: set[int | str] = set()
        self.flood = 0.0
        self.calls: Counter[int | str] = Counter()

    async def get_chat_member(self, chat: int | str, user_id: int) -> str:
        self.calls[chat] += 1
        if self.flood:
            raise FloodWait(self.flood)
        if chat in self.missing:
            raise ChatNotFound("Bad Request: chat not found")
        if chat in self.broken:
            raise BadRequest("getChatMember: Bad Request: member list is inaccessible")
        return self.members.get((chat, user_id), "left")

    def join(self, chat: int | str, user_id: int) -> None:
        self.members[(chat, user_id)] = "member"


class World:
    """One gateway: settings, database, gates with the member port, router; and a user's hands."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.settings: Settings = load_settings(
            environ={"DATA_DIR": str(folder), "ADMIN_IDS": str(ADMIN), **env}, env_file=None
        )
        self.db = open_db(self.settings.db_path, busy_timeout=5)
        self.codec = CallbackCodec.from_data_dir(folder)
        self.port = MemberPort()
        self.gates = Gates(self.settings, self.db, self.codec)
        self.gates.attach(self.port)  # type: ignore[arg-type]
        self.router, _ = build_router(
            self.settings, self.db, self.codec, self.gates, RuntimeLimits(self.settings), None
        )
        self._ids = itertools.count(1000)

    def close(self) -> None:
        self.db.close()

    # ---- what users do ----

    async def say(self, user_id: int, text: str, lang: str = "en") -> list[int]:
        mid = next(self._ids)
        msg = IncomingMessage(
            update_id=mid,
            message_id=mid,
            chat=Chat(id=user_id),
            sender=User(id=user_id, first_name=f"U{user_id}", language_code=lang),
            date=0,
            text=text,
        )
        return await self.router.route(msg)

    async def press(self, user_id: int, data: str, message_id: int = 1) -> list[int]:
        qid = next(self._ids)
        query = CallbackQuery(
            update_id=qid, id=f"q{qid}", sender=User(id=user_id), chat_id=user_id, message_id=message_id, data=data
        )
        return await self.router.route(query)

    async def member_update(self, chat_id: int, username: str, user_id: int, old: str, new: str) -> list[int]:
        change = ChatMemberChange(
            update_id=next(self._ids),
            chat=Chat(id=chat_id, type="channel", title=username, username=username),
            user=User(id=user_id),
            old_status=old,  # type: ignore[arg-type]
            new_status=new,  # type: ignore[arg-type]
        )
        return await self.router.route(change)

    # ---- what they got ----

    def sent(self, chat_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the outbox rows to a chat, oldest first (dropped ones left out)."""
        rows = self.db.execute(
            "SELECT kind, payload FROM outbox WHERE chat_id = ? AND state != 'dropped' ORDER BY id", [chat_id]
        ).fetchall()
        return [json.loads(p) for k, p in rows if kind is None or k == kind]

    def texts(self, chat_id: int) -> list[str]:
        return [p["text"] for p in self.sent(chat_id, "text")]

    def answers(self, chat_id: int) -> list[dict[str, Any]]:
        return self.sent(chat_id, "callback_answer")

    def jobs(self, user_id: int) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT url FROM jobs WHERE user_id = ? ORDER BY id", [user_id])]

    def audit(self) -> list[tuple[int, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT admin_id, action, detail FROM admin_audit ORDER BY id")]

    async def add_lock(self, *args: str) -> int:
        await self.say(ADMIN, "/addsponsor " + " ".join(args))
        return int(self.db.execute("SELECT max(id) FROM sponsors").fetchone()[0])


def buttons(payload: dict[str, Any]) -> list[dict[str, str]]:
    return [b for row in payload.get("keyboard") or [] for b in row]


def prompt_of(world: World, user_id: int) -> dict[str, Any]:
    """The user's lock prompt: the message with join buttons (the newest, after any edit)."""
    prompts = [p for p in world.sent(user_id) if any(b.get("url") for b in buttons(p))]
    assert prompts, world.texts(user_id)
    return prompts[-1]


def check_button(prompt: dict[str, Any]) -> str:
    [data] = [b["data"] for b in buttons(prompt) if b.get("data")]
    return data


def yt(n: int) -> str:
    """A link whose request key costs no extractor search (a YouTube id)."""
    return f"https://www.youtube.com/watch?v=gate{n:07d}"
