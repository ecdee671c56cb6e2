"""What simulated users write beyond plain text: replies, photos with captions, given entities,
forwarded channel posts; each as the bot receives it in getUpdates, and refused when malformed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sandbox.support import Api


async def _last_message(api: Api) -> dict[str, Any]:
    updates = await api.updates(timeout=0)
    message = updates[-1]["message"]
    await api.updates(offset=updates[-1]["update_id"] + 1, timeout=0)
    return dict(message)


async def test_a_reply_carries_the_message_replied_to(api: Api):
    await api.config(limits=False)
    await api.say(7, "hi")
    bot_msg = await api.ok("sendMessage", chat_id=7, text="Choose a format")
    await _last_message(api)
    mid = (await api.user(7, "messages", text="this one", reply_to_message_id=bot_msg["message_id"]))["message_id"]
    message = await _last_message(api)
    assert message["message_id"] == mid and message["text"] == "this one"
    replied = message["reply_to_message"]
    assert (replied["message_id"], replied["text"], replied["from"]["is_bot"]) == (
        bot_msg["message_id"],
        "Choose a format",
        True,
    )
    assert "reply_to_message" not in replied
    view = (await api.chat(7))["messages"][-1]
    assert view["reply_to_message_id"] == bot_msg["message_id"]


async def test_a_photo_with_a_caption_renders_as_telegrams(api: Api, http: httpx.AsyncClient):
    caption = "look https://example.com/v/1 /start"
    mid = (await api.user(8, "messages", photo=True, caption=caption))["message_id"]
    message = await _last_message(api)
    assert "text" not in message and "entities" not in message
    assert message["caption"] == caption
    assert message["caption_entities"] == [
        {"type": "url", "offset": 5, "length": 23},
        {"type": "bot_command", "offset": 29, "length": 6},
    ]
    [size] = message["photo"]
    assert set(size) == {"file_id", "file_unique_id", "width", "height", "file_size"}
    assert (size["width"], size["height"]) == (160, 120) and size["file_id"].startswith("AgAC")
    view = (await api.chat(8))["messages"][-1]
    assert (view["message_id"], view["caption"], view["media"]["kind"]) == (mid, caption, "photo")
    served = await http.get(view["media"]["url"])
    assert served.status_code == 200 and len(served.content) == size["file_size"]
    # The bot can send the user's photo back by its file_id.
    await api.config(limits=False)
    echoed = await api.ok("sendPhoto", chat_id=8, photo=size["file_id"])
    assert echoed["photo"][0]["file_unique_id"] == size["file_unique_id"]
    await api.user(8, "messages", photo=True)  # a caption is optional
    assert "caption" not in await _last_message(api)
    await api.user(8, "messages", caption="just a caption")  # and implies the photo
    implied = await _last_message(api)
    assert (implied["caption"], implied["photo"][0]["file_id"]) == ("just a caption", size["file_id"])


async def test_given_entities_merge_with_detected_ones(api: Api):
    text = "Link here: https://example.org/a 👋 /help"
    given = [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://example.net/hidden"},
        {"type": "bold", "offset": 5, "length": 4},
    ]
    await api.user(9, "messages", text=text, entities=given)
    message = await _last_message(api)
    assert message["entities"] == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://example.net/hidden"},
        {"type": "bold", "offset": 5, "length": 4},
        {"type": "url", "offset": 11, "length": 21},
        {"type": "bot_command", "offset": 36, "length": 5},  # after 👋, two UTF-16 units
    ]
    await api.user(9, "messages", photo=True, caption="clip", entities=[{"type": "italic", "offset": 0, "length": 4}])
    assert (await _last_message(api))["caption_entities"] == [{"type": "italic", "offset": 0, "length": 4}]


async def test_a_forwarded_channel_post_has_its_origin(api: Api):
    channel = await api.channel("@news_channel")
    await api.user(10, "messages", text="https://example.com/watch?v=1", forward_from_chat="@news_channel")
    message = await _last_message(api)
    origin = message["forward_origin"]
    assert origin["type"] == "channel" and origin["chat"]["id"] == channel["id"]
    assert origin["chat"] == {
        "id": channel["id"],
        "title": "News_Channel",
        "username": "news_channel",
        "type": "channel",
    }
    assert message["forward_from_chat"] == origin["chat"]
    assert message["forward_from_message_id"] == origin["message_id"] and origin["message_id"] > 0
    assert message["forward_date"] == origin["date"]
    assert message["from"]["id"] == 10 and message["text"] == "https://example.com/watch?v=1"
    await api.user(10, "messages", text="again", forward_from_chat=channel["id"], forward_from_message_id=77)
    again = await _last_message(api)
    assert (again["forward_origin"]["message_id"], again["forward_from_chat"]["id"]) == (77, channel["id"])


async def test_malformed_messages_are_refused_with_a_reason(api: Api, http: httpx.AsyncClient):
    await api.say(11, "hi")
    await api.channel("@grp", kind="supergroup")
    cases = [
        ({"photo": True, "text": "x"}, 400),
        ({"caption": "no photo", "photo": False}, 400),
        ({"photo": "yes"}, 400),
        ({"photo": True, "caption": "x" * 1025}, 400),
        ({"text": "x", "reply_to_message_id": 999}, 404),
        ({"text": "x", "reply_to_message_id": "1"}, 400),
        ({"text": "x", "entities": [{"type": "bold", "offset": 0, "length": 5}]}, 400),
        ({"text": "x", "entities": [{"type": "nonsense", "offset": 0, "length": 1}]}, 400),
        ({"text": "x", "entities": [{"type": "text_link", "offset": 0, "length": 1}]}, 400),
        ({"text": "x", "entities": "bold"}, 400),
        ({"text": "x", "forward_from_chat": "@nowhere"}, 404),
        ({"text": "x", "forward_from_chat": "@grp"}, 404),
        ({"text": "x", "forward_from_chat": True}, 400),
    ]
    for body, status in cases:
        resp = await http.post("/sandbox/users/11/messages", json=body)
        assert resp.status_code == status, (body, resp.text)
        assert resp.json()["ok"] is False and resp.json()["error"]
    assert len((await api.chat(11))["messages"]) == 1
