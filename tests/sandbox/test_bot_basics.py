"""The Bot API endpoint itself: tokens, method names, ways to pass parameters, getMe, getChat."""

from __future__ import annotations

import httpx

from tests.sandbox.support import BOT_ID, TOKEN, Api

ME = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Sandbox Bot",
    "username": "sandbox_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
    "can_connect_to_business": False,
    "has_main_web_app": False,
    "has_topics_enabled": False,
    "allows_users_to_create_topics": False,
}


async def test_get_me_describes_the_bot_of_the_token(api: Api, http: httpx.AsyncClient):
    assert await api.ok("getMe") == ME
    other = await http.get("/bot777:other-key/getMe")
    assert other.json()["result"]["id"] == 777


async def test_malformed_token_is_unauthorized_and_unknown_method_not_found(http: httpx.AsyncClient):
    for token in ("nodigits:key", "123", "123:", "12a:key"):
        resp = await http.post(f"/bot{token}/getMe")
        assert (resp.status_code, resp.json()) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    resp = await http.post(f"/bot{TOKEN}/sendTelepathy")
    assert (resp.status_code, resp.json()) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    resp = await http.get(f"/bot{TOKEN}")
    assert resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_method_names_are_case_insensitive_and_counted_by_their_name(api: Api, http: httpx.AsyncClient):
    assert (await http.get(f"/bot{TOKEN}/GETME")).json()["ok"] is True
    assert (await http.get(f"/bot{TOKEN}/getme")).json()["ok"] is True
    assert (await api.stats())["requests"]["getMe"] == 2


async def test_parameters_come_as_query_form_json_or_multipart(api: Api, http: httpx.AsyncClient):
    await api.config(limits=False)  # four sends at once would pass the private chat's burst
    await api.say(5, "hi")
    keyboard = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    by_query = (await http.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": "5", "text": "q"})).json()
    by_form = (
        await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "f", "reply_markup": keyboard})
    ).json()
    by_json = (await http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": 5, "text": "j"})).json()
    by_multipart = (
        await http.post(
            f"/bot{TOKEN}/sendMessage",
            data={"chat_id": "5", "text": "m"},
            files={"unused": ("x.txt", b"x", "text/plain")},
        )
    ).json()
    assert [b["result"]["text"] for b in (by_query, by_form, by_json, by_multipart)] == ["q", "f", "j", "m"]
    assert by_form["result"]["reply_markup"] == {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}


async def test_bad_json_body_is_a_bad_request(http: httpx.AsyncClient):
    resp = await http.post(f"/bot{TOKEN}/sendMessage", content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["description"].startswith("Bad Request: ")


async def test_get_chat_private_and_channel(api: Api):
    assert await api.fails("getChat", chat_id=9) == (400, "Bad Request: chat not found")
    await api.say(9, "hi", first_name="Sara", username="sara_k")
    info = await api.ok("getChat", chat_id=9)
    assert {k: info[k] for k in ("id", "type", "first_name", "username")} == {
        "id": 9,
        "type": "private",
        "first_name": "Sara",
        "username": "sara_k",
    }
    assert isinstance(info["accent_color_id"], int) and isinstance(info["max_reaction_count"], int)
    assert set(info["accepted_gift_types"]) == {
        "unlimited_gifts",
        "limited_gifts",
        "unique_gifts",
        "premium_subscription",
        "gifts_from_channels",
    }
    channel = await api.channel("@news_ch")
    info = await api.ok("getChat", chat_id="@news_ch")
    assert (info["id"], info["type"], info["title"], info["username"]) == (
        channel["id"],
        "channel",
        "News_Ch",
        "news_ch",
    )
    assert str(info["id"]).startswith("-100")
    assert await api.fails("getChat", chat_id="@nobody_here") == (400, "Bad Request: chat not found")


async def test_set_get_and_delete_my_commands(api: Api):
    commands = [{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}]
    assert await api.ok("setMyCommands", commands=commands) is True
    assert await api.ok("getMyCommands") == commands
    assert await api.ok("getMyCommands", language_code="fa") == []
    assert await api.fails("setMyCommands", commands=[{"command": "Bad Cmd", "description": "x"}]) == (
        400,
        "Bad Request: BOT_COMMAND_INVALID",
    )
    assert await api.ok("deleteMyCommands") is True
    assert await api.ok("getMyCommands") == []


async def test_send_chat_action_needs_a_known_action(api: Api):
    await api.say(3, "hi")
    assert await api.ok("sendChatAction", chat_id=3, action="upload_video") is True
    assert await api.fails("sendChatAction", chat_id=3, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )


async def test_webhook_methods_say_polling_is_in_use(api: Api):
    await api.say(3, "pending")
    assert await api.ok("getWebhookInfo") == {"url": "", "has_custom_certificate": False, "pending_update_count": 1}
    assert await api.ok("deleteWebhook", drop_pending_updates=True) is True
    assert await api.updates(timeout=0) == []
