"""A gateway wired as `gateway.main` wires it (gates, every handler table, the admin panel with
its live limits and awaited values) against a real SQLite file, for the admin panel's tests; with
helpers to read what was sent and to press the buttons of it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from core.runtime_limits import RuntimeLimits
from core.telegram import CallbackQuery, User
from gateway.main import build_router
from tests.gateway.gatekit import ADMIN, World

OTHER_ADMIN = 4343
NOT_ADMIN = 7


class AdminWorld(World):
    def __init__(self, folder: Path, **env: str) -> None:
        super().__init__(folder, ADMIN_IDS=f"{ADMIN},{OTHER_ADMIN}", **env)
        self.live = RuntimeLimits(self.settings)
        self.router, self.limits = build_router(self.settings, self.db, self.codec, self.gates, self.live, None)

    async def press_as(self, user_id: int, data: str, message_id: int = 1) -> list[int]:
        qid = next(self._ids)
        query = CallbackQuery(
            update_id=qid, id=f"q{qid}", sender=User(id=user_id), chat_id=user_id, message_id=message_id, data=data
        )
        return await self.router.route(query)

    def last(self, chat_id: int) -> dict[str, Any]:
        """The newest text or edit sent to the chat."""
        rows = self.db.execute(
            "SELECT payload FROM outbox WHERE chat_id = ? AND kind IN ('text', 'edit') ORDER BY id DESC LIMIT 1",
            [chat_id],
        ).fetchone()
        assert rows is not None, f"nothing was sent to {chat_id}"
        return dict(json.loads(rows[0]))

    def last_answer(self, chat_id: int) -> str:
        answers = self.answers(chat_id)
        return str(answers[-1].get("text") or "") if answers else ""

    def add_job(
        self, user_id: int, state: str = "queued", url: str = "https://media.example/v", *, at: float | None = None
    ) -> int:
        now = time.time() if at is None else at
        self.db.execute(
            "INSERT INTO users (id, joined_at, last_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [user_id, now, now],
        )
        return int(
            self.db.execute(
                "INSERT INTO jobs (user_id, chat_id, url, request_key, state, created_at, updated_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # a job in a final state has its finished_at
                [
                    user_id,
                    user_id,
                    url,
                    url,
                    state,
                    now,
                    now,
                    now if state in ("done", "failed", "cancelled") else None,
                ],
            ).lastrowid
            or 0
        )

    def state(self, job_id: int) -> str:
        return str(self.db.execute("SELECT state FROM jobs WHERE id = ?", [job_id]).fetchone()[0])


def keys(payload: dict[str, Any]) -> list[dict[str, str]]:
    return [b for row in payload.get("keyboard") or [] for b in row]


def button(payload: dict[str, Any], *words: str) -> str:
    """The callback data of the first button whose label holds one of `words`."""
    for b in keys(payload):
        if any(w in b["text"] for w in words) and b.get("data"):
            return b["data"]
    raise AssertionError(f"no button with {words} in {[b['text'] for b in keys(payload)]}")
