"""The gateway's handling of one update against a real SQLite file: the user row, the outbox
row, the language, and a redelivered update (gateway killed before confirming) handled once."""

from __future__ import annotations

import json

import pytest

from core.config import load_settings
from core.db import open_db
from core.telegram import Chat, IncomingMessage, User
from gateway.updates import UpdateLoop

SETTINGS = load_settings(environ={}, env_file=None)


@pytest.fixture
def loop(tmp_path):
    db = open_db(tmp_path / "bot.sqlite3", busy_timeout=5)
    try:
        yield UpdateLoop(SETTINGS, db, port=None, outbox_push=None)  # type: ignore[arg-type]
    finally:
        db.close()


def message(user_id: int, message_id: int, text: str, lang: str | None, name: str = "Ali") -> IncomingMessage:
    user = User(id=user_id, first_name=name, language_code=lang)
    return IncomingMessage(
        update_id=message_id, message_id=message_id, chat=Chat(id=user_id), sender=user, date=0, text=text
    )


def outbox(loop: UpdateLoop) -> list[tuple[int, dict]]:
    rows = loop.db.execute("SELECT chat_id, payload FROM outbox ORDER BY id").fetchall()
    return [(chat, json.loads(payload)) for chat, payload in rows]


def test_start_queues_one_welcome_in_the_users_language(loop):
    assert len(loop.handle(message(1, 10, "/start", "en", "<b>Tom</b>"))) == 1
    assert len(loop.handle(message(2, 11, "/start@sandbox_bot", "fa-IR"))) == 1
    assert len(loop.handle(message(3, 12, "/start", None))) == 1
    (c1, en), (c2, fa), (c3, default) = outbox(loop)
    assert (c1, c2, c3) == (1, 2, 3)
    assert "Welcome" in en["text"] and "&lt;b&gt;Tom&lt;/b&gt;" in en["text"]  # the name is escaped for HTML
    assert "خوش آمدید" in fa["text"] and "خوش آمدید" in default["text"]
    langs = dict(loop.db.execute("SELECT id, language FROM users").fetchall())
    assert langs == {1: "en", 2: "fa", 3: "fa"}


def test_a_redelivered_update_is_handled_once(loop):
    first = message(1, 10, "/start", "en")
    assert loop.handle(first)
    assert loop.handle(first) == []  # delivered again after a crash before confirm
    assert loop.handle(message(1, 11, "/start", "en"))  # a new /start is answered again
    assert len(outbox(loop)) == 2


def test_other_text_and_group_messages_queue_nothing_but_the_user_is_remembered(loop):
    assert loop.handle(message(5, 20, "hello", "en")) == []
    group = IncomingMessage(
        update_id=21, message_id=21, chat=Chat(id=-100, type="supergroup"), sender=User(id=6), date=0, text="/start"
    )
    assert loop.handle(group) == []
    assert outbox(loop) == []
    assert [r[0] for r in loop.db.execute("SELECT id FROM users").fetchall()] == [5]
