"""The user-simulation API: users, their chat view, live events, and bad input refused clearly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h11
import httpx
import trio

from tests.sandbox.support import Api

EVENT_DEADLINE_S = 5.0


class EventStream:
    """A server-sent event stream read over a plain connection with h11 (which undoes the chunked
    encoding): a test that stops listening leaves no half-read generator of an HTTP client behind."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.http = h11.Connection(h11.CLIENT)
        self.buffer = b""

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str, path: str) -> AsyncIterator[tuple[EventStream, h11.Response]]:
        host, port = base_url.removeprefix("http://").split(":")
        async with await trio.open_tcp_stream(host, int(port)) as stream:
            events = cls(stream)
            request = h11.Request(method="GET", target=path, headers=[("Host", host), ("Accept", "text/event-stream")])
            await stream.send_all(events.http.send(request) + events.http.send(h11.EndOfMessage()))
            response = await events._next()
            assert isinstance(response, h11.Response), response
            yield events, response

    async def _next(self) -> object:  # an h11 event, or PAUSED
        while (event := self.http.next_event()) is h11.NEED_DATA:
            self.http.receive_data(await self.stream.receive_some(4096))
        return event

    async def line(self) -> str:
        while b"\n" not in self.buffer:
            event = await self._next()
            if not isinstance(event, h11.Data):
                raise AssertionError(f"the event stream ended: {event!r}")
            self.buffer += bytes(event.data)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().rstrip("\r")

    async def event(self, deadline_s: float = EVENT_DEADLINE_S) -> tuple[str, dict]:
        """The next `event:` and its data."""
        name = None
        with trio.fail_after(deadline_s):
            while True:
                line = await self.line()
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name is not None:
                    return name, json.loads(line.removeprefix("data: "))


async def test_events_announce_every_change_of_the_users_chat(api: Api, sandbox_url: str):
    await api.config(limits=False)
    async with EventStream.open(sandbox_url, "/sandbox/users/3/events") as (events, response):
        assert dict(response.headers)[b"content-type"].startswith(b"text/event-stream")
        with trio.fail_after(EVENT_DEADLINE_S):
            assert (await events.line()).startswith(":")  # the stream is open
        await api.say(3, "hi")
        assert await events.event() == ("chat", {"user_id": 3})
        mid = (await api.ok("sendMessage", chat_id=3, text="reply"))["message_id"]
        assert await events.event() == ("chat", {"user_id": 3})
        await api.ok("editMessageText", chat_id=3, message_id=mid, text="edited")
        assert await events.event() == ("chat", {"user_id": 3})
        await api.user(3, "block")
        assert await events.event() == ("chat", {"user_id": 3})


async def test_chat_view_of_unknown_user_is_empty(api: Api):
    assert await api.chat(999) == {"user": None, "messages": [], "callback_answers": []}


async def test_message_view_fields(api: Api):
    await api.say(4, "hello")
    await api.ok(
        "sendMessage",
        chat_id=4,
        text="<i>yo</i>",
        parse_mode="HTML",
        reply_markup={"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]},
    )
    view = await api.chat(4)
    assert view["user"] == {"id": 4, "first_name": "User 4", "username": None, "language_code": None, "blocked": False}
    user_msg, bot_msg = view["messages"]
    expected = {
        "message_id",
        "from",
        "date",
        "at",
        "text",
        "entities",
        "html",
        "reply_markup",
        "reply_to_message_id",
        "edit_count",
        "edit_date",
        "deleted",
        "media",
        "media_group_id",
        "via_bot",
    }
    assert set(user_msg) == set(bot_msg) == expected
    assert (bot_msg["media_group_id"], bot_msg["via_bot"]) == (None, False)
    assert (user_msg["from"], bot_msg["from"], bot_msg["text"], bot_msg["html"]) == ("user", "bot", "yo", "<i>yo</i>")
    assert bot_msg["reply_markup"] == {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}


async def test_writing_to_a_blocked_bot_restarts_it(api: Api):
    await api.say(6, "hi")
    await api.user(6, "block")
    await api.say(6, "/start")
    kinds = [next(k for k in u if k != "update_id") for u in await api.updates(timeout=0)]
    assert kinds == ["message", "my_chat_member", "my_chat_member", "message"]
    assert (await api.ok("sendMessage", chat_id=6, text="welcome back"))["text"] == "welcome back"


async def test_bad_input_is_refused_with_a_reason(http: httpx.AsyncClient):
    cases = [
        ("/sandbox/users/1/messages", {}, 400),
        ("/sandbox/users/1/messages", {"text": "   "}, 400),
        ("/sandbox/users/1/messages", {"text": 5}, 400),
        ("/sandbox/users/1/callbacks", {"message_id": "x", "data": "d"}, 400),
        ("/sandbox/users/1/join", {}, 400),
        ("/sandbox/chats", {"username": 3}, 400),
    ]
    for path, body, status in cases:
        resp = await http.post(path, json=body)
        assert resp.status_code == status, (path, body, resp.text)
        assert resp.json()["ok"] is False and resp.json()["error"]
    not_json = await http.post("/sandbox/users/1/messages", content=b"text=hi")
    assert not_json.status_code == 400
    assert (await http.get("/sandbox/files/nope")).status_code == 404
    assert (await http.post("/sandbox/users/0/messages", json={"text": "x"})).status_code == 400
