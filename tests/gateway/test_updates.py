"""The gateway's routing of one update against a real SQLite file: the user row, the outbox
row, the language, and a redelivered update (gateway killed before confirming) handled once."""

from __future__ import annotations

import json

import pytest

from core.callback_data import CallbackCodec
from core.config import load_settings
from core.db import open_db
from core.telegram import Chat, IncomingMessage, User
from gateway.handlers import links
from gateway.main import HANDLERS
from gateway.router import Router


@pytest.fixture
def router(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    try:
        yield Router(settings, db, CallbackCodec.from_data_dir(tmp_path), HANDLERS, links.links)
    finally:
        db.close()


def message(user_id: int, message_id: int, text: str, lang: str | None, name: str = "Ali") -> IncomingMessage:
    user = User(id=user_id, first_name=name, language_code=lang)
    return IncomingMessage(
        update_id=message_id, message_id=message_id, chat=Chat(id=user_id), sender=user, date=0, text=text
    )


def outbox(router: Router) -> list[tuple[int, dict]]:
    rows = router.db.execute("SELECT chat_id, payload FROM outbox ORDER BY id").fetchall()
    return [(chat, json.loads(payload)) for chat, payload in rows]


async def test_start_queues_one_welcome_in_the_users_language(router):
    assert len(await router.route(message(1, 10, "/start", "en", "<b>Tom</b>"))) == 1
    assert len(await router.route(message(2, 11, "/start@sandbox_bot", "fa-IR"))) == 1
    assert len(await router.route(message(3, 12, "/start", None))) == 1
    (c1, en), (c2, fa), (c3, default) = outbox(router)
    assert (c1, c2, c3) == (1, 2, 3)
    assert "Welcome" in en["text"] and "&lt;b&gt;Tom&lt;/b&gt;" in en["text"]  # the name is escaped for HTML
    assert "خوش آمدید" in fa["text"] and "خوش آمدید" in default["text"]
    langs = dict(router.db.execute("SELECT id, language FROM users").fetchall())
    assert langs == {1: "en", 2: "fa", 3: "fa"}


async def test_a_redelivered_update_is_handled_once(router):
    first = message(1, 10, "/start", "en")
    assert await router.route(first)
    assert await router.route(first) == []  # delivered again after a crash before confirm
    assert await router.route(message(1, 11, "/start", "en"))  # a new /start is answered again
    assert len(outbox(router)) == 2


async def test_group_messages_queue_nothing_and_plain_text_gets_a_hint(router):
    group = IncomingMessage(
        update_id=21, message_id=21, chat=Chat(id=-100, type="supergroup"), sender=User(id=6), date=0, text="/start"
    )
    assert await router.route(group) == []
    assert outbox(router) == []
    assert len(await router.route(message(5, 20, "hello", "en"))) == 1
    [(chat, hint)] = outbox(router)
    assert chat == 5 and "link" in hint["text"]
    assert [r[0] for r in router.db.execute("SELECT id FROM users").fetchall()] == [5]
