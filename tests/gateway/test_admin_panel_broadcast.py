"""/broadcast through Router.route against a real SQLite file: the confirmation with the number of
recipients, the buttons' states (confirm, drop, pause, resume, cancel), stale buttons, one
broadcast at a time, non-admins refused, every step audited."""

from __future__ import annotations

import json
import time

import pytest

from core.callback_data import CallbackCodec
from core.config import load_settings
from core.db import open_db
from core.telegram import CallbackQuery, Chat, IncomingMessage, User
from gateway.handlers import links
from gateway.main import HANDLERS
from gateway.router import Router

ADMIN = 4242
updates = iter(range(1, 1_000_000))


@pytest.fixture
def router(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path), "ADMIN_IDS": str(ADMIN)}, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    try:
        yield Router(settings, db, CallbackCodec.from_data_dir(tmp_path), HANDLERS, links.links)
    finally:
        db.close()


def say(user_id: int, text: str, reply_to: int | None = None, lang: str = "en") -> IncomingMessage:
    n = next(updates)
    return IncomingMessage(
        update_id=n,
        message_id=n,
        chat=Chat(id=user_id),
        sender=User(id=user_id, first_name="A", language_code=lang),
        date=0,
        text=text,
        reply_to_message_id=reply_to,
    )


def press(user_id: int, data: str, message_id: int = 1) -> CallbackQuery:
    n = next(updates)
    return CallbackQuery(
        update_id=n, id=f"q{n}", sender=User(id=user_id, language_code="en"), chat_id=user_id, message_id=message_id,
        data=data,
    )  # fmt: skip


def rows(router: Router, chat_id: int) -> list[dict]:
    found = router.db.execute("SELECT id, kind, payload, role FROM outbox WHERE chat_id = ? ORDER BY id", [chat_id])
    return [{"id": r[0], "kind": r[1], "role": r[3], **json.loads(r[2])} for r in found.fetchall()]


def broadcast_row(router: Router) -> dict:
    cursor = router.db.execute("SELECT * FROM broadcasts ORDER BY id DESC LIMIT 1")
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}


def audit(router: Router) -> list[tuple[int, str]]:
    return router.db.execute("SELECT admin_id, action FROM admin_audit ORDER BY id").fetchall()


def button(row: dict, word: str) -> str:
    for line in row.get("keyboard") or []:
        for b in line:
            if word.lower() in b["text"].lower():
                return str(b["data"])
    raise AssertionError(f"no {word!r} button in {row}")


async def users(router: Router, count: int, first: int = 1000) -> None:
    for user_id in range(first, first + count):
        await router.route(say(user_id, "/start"))


async def drafted(router: Router, original: IncomingMessage | None = None) -> dict:
    """The admin replies /broadcast to one of their messages; the confirmation row."""
    await router.route(say(ADMIN, "/start"))
    original = original or say(ADMIN, "Hello everyone!")
    await router.route(original)
    await router.route(say(ADMIN, "/broadcast", reply_to=original.message_id))
    return rows(router, ADMIN)[-1]


async def test_an_admin_is_asked_to_confirm_with_the_number_of_recipients(router):
    await users(router, 5)
    router.db.execute("UPDATE users SET blocked_bot = 1 WHERE id = 1000")
    router.db.execute("UPDATE users SET banned = 1 WHERE id = 1001")
    original = say(ADMIN, "Hello everyone!")
    confirm = await drafted(router, original)
    assert "3 users" in confirm["text"]  # five users, less the one who blocked the bot and the banned one
    b = broadcast_row(router)
    assert (b["state"], b["total"], b["admin_id"], b["status_outbox_id"]) == ("draft", 3, ADMIN, confirm["id"])
    assert json.loads(b["payload"]) == {"op": "copy", "from_chat_id": ADMIN, "message_id": original.message_id}
    assert (ADMIN, "broadcast_draft") in audit(router)
    assert {b["text"] for line in confirm["keyboard"] for b in line} == {"✅ Send", "✖ Don't send"}


async def test_without_a_reply_the_admin_hears_how_and_nothing_is_made(router):
    await users(router, 2)
    await router.route(say(ADMIN, "/broadcast"))
    assert "reply to it with /broadcast" in rows(router, ADMIN)[-1]["text"]
    assert broadcast_row(router) == {}


async def test_a_user_who_is_no_admin_is_refused_politely_and_the_attempt_is_kept(router):
    await users(router, 2)
    original = say(1000, "hi all")
    await router.route(original)
    await router.route(say(1000, "/broadcast", reply_to=original.message_id))
    assert "admins only" in rows(router, 1000)[-1]["text"]
    assert broadcast_row(router) == {}
    assert audit(router) == [(1000, "denied")]


async def test_confirm_starts_it_and_the_buttons_pause_resume_and_cancel_it(router):
    await users(router, 3)
    confirm = await drafted(router)
    started = time.time()
    await router.route(press(ADMIN, button(confirm, "Send")))
    b = broadcast_row(router)
    assert b["state"] == "running" and b["started_at"] >= started and b["total"] == 3
    status = rows(router, ADMIN)[-2]  # the confirmation itself, rewritten while it waits to be sent
    assert status["id"] == confirm["id"] and "Broadcast under way" in status["text"]
    assert rows(router, ADMIN)[-1]["kind"] == "callback_answer"

    await router.route(press(ADMIN, button(status, "Pause")))
    assert broadcast_row(router)["state"] == "paused"
    status = next(r for r in rows(router, ADMIN) if r["id"] == confirm["id"])
    assert "paused" in status["text"]
    await router.route(press(ADMIN, button(status, "Resume")))
    assert broadcast_row(router)["state"] == "running"
    status = next(r for r in rows(router, ADMIN) if r["id"] == confirm["id"])
    cancel = button(status, "Cancel")
    await router.route(press(ADMIN, cancel))
    b = broadcast_row(router)
    assert b["state"] == "cancelled" and b["finished_at"] is not None and b["reported_at"] is None  # the runner reports
    actions = [a for _, a in audit(router)]
    assert actions == ["broadcast_draft", "broadcast_start", "broadcast_pause", "broadcast_resume", "broadcast_cancel"]

    await router.route(press(ADMIN, cancel))  # pressed again: nothing changes
    assert "expired" in rows(router, ADMIN)[-1]["text"]
    assert len(audit(router)) == 5


async def test_a_dropped_draft_sends_nothing_and_needs_no_report(router):
    await users(router, 2)
    confirm = await drafted(router)
    await router.route(press(ADMIN, button(confirm, "Don't send")))
    b = broadcast_row(router)
    assert b["state"] == "cancelled" and b["reported_at"] is not None and b["started_at"] is None
    assert "nothing was sent" in next(r for r in rows(router, ADMIN) if r["id"] == confirm["id"])["text"]
    await router.route(press(ADMIN, button(confirm, "Send")))  # the old confirm button is stale now
    assert broadcast_row(router)["state"] == "cancelled"


async def test_one_broadcast_at_a_time(router):
    await users(router, 2)
    first = await drafted(router)
    await router.route(press(ADMIN, button(first, "Send")))
    second = say(ADMIN, "Another one")
    await router.route(second)
    await router.route(say(ADMIN, "/broadcast", reply_to=second.message_id))
    assert "still under way" in rows(router, ADMIN)[-1]["text"]
    assert router.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 1


async def test_a_non_admin_pressing_a_broadcast_button_changes_nothing(router):
    await users(router, 2)
    confirm = await drafted(router)
    await router.route(press(1000, button(confirm, "Send")))
    assert broadcast_row(router)["state"] == "draft"
    assert "admins only" in rows(router, 1000)[-1]["text"]
    assert audit(router)[-1] == (1000, "denied")
