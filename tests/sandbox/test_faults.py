"""Injected faults: each one shows to the client as it would from a troubled Telegram, and is
counted in /sandbox/stats."""

from __future__ import annotations

import json

import httpx
import pytest
import trio

from sandbox.drop import drop_connection
from tests.sandbox.support import TOKEN, Api
from tests.support.poll import until


async def test_failures_answer_5xx_for_the_chosen_methods_only(api: Api):
    await api.say(1, "hi")
    await api.config(faults={"fail_rate": 1.0, "fail_methods": ["sendMessage"], "fail_status": 502})
    status, body = await api.call("sendMessage", chat_id=1, text="lost")
    assert (status, body) == (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    assert (await api.call("getMe"))[0] == 200
    assert [m["text"] for m in (await api.chat(1))["messages"]] == ["hi"]  # nothing was sent
    stats = await api.stats()
    assert stats["faults"]["failed"] == 1 and stats["responses"]["502"] == 1


async def test_a_fail_rate_fails_about_that_share(api: Api):
    await api.config(faults={"fail_rate": 0.5, "fail_status": 503})
    statuses = [(await api.call("getMe"))[0] for _ in range(100)]
    assert set(statuses) == {200, 503}
    assert 20 <= statuses.count(503) <= 80
    assert (await api.stats())["faults"]["failed"] == statuses.count(503)


async def test_latency_delays_every_call(api: Api):
    await api.config(faults={"latency_ms": 300})
    start = trio.current_time()
    assert (await api.call("getMe"))[0] == 200
    assert trio.current_time() - start >= 0.3
    assert (await api.stats())["faults"]["delayed"] == 1


async def _post_and_hang_up(sandbox_url: str, text: str, *, until_arrived: Api | None = None) -> None:
    """A sendMessage sent whole over a raw connection, which is then closed without reading the
    answer; with `until_arrived`, only once the sandbox holds the call in its added latency."""
    host, port = sandbox_url.removeprefix("http://").split(":")
    body = json.dumps({"chat_id": 1, "text": text}).encode()
    head = (
        f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(head + body)
    if until_arrived is not None:
        arrived = until_arrived

        async def delayed() -> bool:
            return bool((await arrived.stats())["faults"]["delayed"] >= 1)

        await until("the call to be held in its latency", delayed, 10, interval=0.01)
    await stream.aclose()


async def test_a_call_whose_client_leaves_before_it_completed_is_not_carried_out(api: Api, sandbox_url: str):
    await api.say(1, "hi")
    await api.config(faults={"latency_ms": 60_000})  # the call is on its way for a minute
    await _post_and_hang_up(sandbox_url, "on its way", until_arrived=api)

    async def abandoned() -> dict | None:
        stats = await api.stats()
        return stats if stats["abandoned"].get("sendMessage") == 1 else None

    stats = await until("the call to be abandoned", abandoned, 10)
    assert stats["sends"] == 0 and [m["text"] for m in (await api.chat(1))["messages"]] == ["hi"]


async def test_a_call_that_completed_is_carried_out_though_nobody_reads_the_answer(api: Api, sandbox_url: str):
    await api.say(1, "hi")
    await _post_and_hang_up(sandbox_url, "done, unread")

    async def landed() -> list[str] | None:
        texts = [m["text"] for m in (await api.chat(1))["messages"]]
        return texts if "done, unread" in texts else None

    assert await until("the unread call to land", landed, 10) == ["hi", "done, unread"]
    assert (await api.stats())["abandoned"] == {}


async def test_dropped_connections_end_without_a_response(api: Api, http: httpx.AsyncClient):
    await api.config(faults={"drop_rate": 1.0, "drop_methods": ["getMe"]})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await http.post(f"/bot{TOKEN}/getMe")
    assert (await api.call("getChat", chat_id=1))[0] == 400  # other methods still answer
    stats = await api.stats()
    assert stats["faults"]["dropped"] == 1
    await api.config(faults={"drop_rate": 0.0})
    assert (await api.call("getMe"))[0] == 200  # the server itself is fine


async def test_forced_flood_every_nth_send_holds_the_bot_for_retry_after(api: Api):
    await api.config(limits=False, faults={"flood_every": 3, "flood_retry_after": 1})
    await api.say(1, "hi")
    results = [await api.call("sendMessage", chat_id=1, text=str(i)) for i in range(4)]
    assert [s for s, _ in results] == [200, 200, 429, 429]
    assert results[2][1]["parameters"] == {"retry_after": 1}
    assert results[2][1]["description"] == "Too Many Requests: retry after 1"
    await trio.sleep(1)
    assert (await api.call("sendMessage", chat_id=1, text="later"))[0] == 200
    stats = await api.stats()
    assert stats["faults"]["forced_floods"] == 1 and stats["flood_waits"] == 2


async def test_flood_next_refuses_the_next_sends_once(api: Api):
    await api.say(1, "hi")
    config = await api.config(faults={"flood_next": 1, "flood_retry_after": 7})
    assert config["faults"]["flood_next"] == 1
    status, body = await api.call("sendMessage", chat_id=1, text="x")
    assert (status, body["parameters"]) == (429, {"retry_after": 7})
    assert (await api.http.get("/sandbox/config")).json()["faults"]["flood_next"] == 0


async def test_flood_methods_answer_every_call_of_those_methods_with_a_429_until_emptied(api: Api):
    await api.channel("@c")
    await api.config(faults={"flood_methods": ["getchatmember"], "flood_retry_after": 9})
    for _ in range(2):
        status, body = await api.call("getChatMember", chat_id="@c", user_id=5)
        assert (status, body["parameters"]) == (429, {"retry_after": 9})
    assert (await api.call("getMe"))[0] == 200  # other methods answer
    await api.config(faults={"flood_methods": []})
    assert (await api.call("getChatMember", chat_id="@c", user_id=5))[0] != 429
    stats = await api.stats()
    assert stats["faults"]["forced_floods"] == 2 and stats["flood_waits"] == 2


async def test_config_refuses_bad_values_and_changes_nothing(api: Api, http: httpx.AsyncClient):
    before = (await http.get("/sandbox/config")).json()
    assert set(before) == {
        "limits",
        "bot_rate",
        "chat_rate",
        "chat_burst",
        "group_per_min",
        "upload_limit_mb",
        "cloud_mode",
        "faults",
    }
    for bad in (
        {"bot_rate": "fast"},
        {"limits": "yes"},
        {"chat_burst": 1.5},
        {"faults": {"fail_status": 404}},
        {"faults": {"fail_rate": 2}},
        {"faults": {"teleport": 1}},
        {"speed": 1},
        {"bot_rate": 10, "faults": {"drop_rate": -1}},
    ):
        resp = await http.post("/sandbox/config", json=bad)
        assert resp.status_code == 400 and resp.json()["ok"] is False, bad
    assert (await http.get("/sandbox/config")).json() == before


async def test_reset_empties_the_world_and_restores_the_start_config(api: Api, http: httpx.AsyncClient):
    await api.say(1, "hi")
    first_id = (await api.updates(timeout=0))[0]["update_id"]
    await api.channel("@c")
    await api.config(limits=False, faults={"latency_ms": 5})
    assert (await http.post("/sandbox/reset")).json() == {"ok": True}
    assert (await api.chat(1))["messages"] == []
    assert (await http.get("/sandbox/chats")).json() == {"chats": []}
    assert (await http.get("/sandbox/users")).json() == {"users": []}
    config = (await http.get("/sandbox/config")).json()
    assert config["limits"] is True and config["faults"]["latency_ms"] == 0
    assert (await api.stats())["requests"] == {}
    await api.say(1, "again")
    assert (await api.updates(timeout=0))[0]["update_id"] > first_id  # a polling bot's offset stays valid


async def test_drop_outside_a_served_connection_falls_back_to_a_broken_response():
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    response = drop_connection()  # no hypercorn connection above this task
    await response({"type": "http"}, None, send)  # type: ignore[arg-type]
    start, body = sent
    assert dict(start["headers"])[b"content-length"] == b"64" and body == {
        "type": "http.response.body",
        "body": b"",
        "more_body": True,
    }


async def test_an_upload_rate_makes_uploads_take_their_time(api: Api):
    await api.say(3, "hi")
    await api.config(faults={"upload_rate": 100_000})
    started = trio.current_time()
    await api.ok("sendDocument", files={"document": ("a.bin", b"x" * 200_000)}, chat_id=3)
    assert trio.current_time() - started >= 1.5  # 200 kB at 100 kB/s
    await api.config(faults={"upload_rate": 0})
    started = trio.current_time()
    await api.ok("sendDocument", files={"document": ("b.bin", b"x" * 200_000)}, chat_id=3)
    assert trio.current_time() - started < 1.5
