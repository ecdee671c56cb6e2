"""sendMessage: the Message it returns field by field, HTML, keyboards, replies, and every refusal."""

from __future__ import annotations

import json

from tests.sandbox.support import BOT_ID, Api

BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Sandbox Bot", "username": "sandbox_bot"}
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Video", "callback_data": "fmt:video"}, {"text": "Site", "url": "https://example.com"}]
    ]
}


async def test_message_shape_follows_the_bot_api(api: Api):
    await api.say(42, "hello", first_name="Ali", username="ali_r", language_code="fa")
    msg = await api.ok("sendMessage", chat_id=42, text="<b>Hi</b> there", parse_mode="HTML", reply_markup=KEYBOARD)
    assert set(msg) == {"message_id", "from", "chat", "date", "text", "entities", "reply_markup"}
    assert msg["message_id"] == 2  # message ids count per chat; the user's message was 1
    assert msg["from"] == BOT
    assert msg["chat"] == {"id": 42, "first_name": "Ali", "username": "ali_r", "type": "private"}
    assert isinstance(msg["date"], int) and msg["date"] > 1_600_000_000
    assert msg["text"] == "Hi there"
    assert msg["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert msg["reply_markup"] == KEYBOARD


async def test_plain_text_has_no_entities_unless_telegram_finds_some(api: Api):
    await api.say(1, "hi")
    plain = await api.ok("sendMessage", chat_id=1, text="just words")
    assert "entities" not in plain and "reply_markup" not in plain
    linked = await api.ok("sendMessage", chat_id=1, text="see https://example.com/a, ok")
    assert linked["entities"] == [{"type": "url", "offset": 4, "length": 21}]


async def test_html_is_parsed_into_text_and_utf16_entities(api: Api):
    await api.say(1, "hi")
    source = '😀 <i>x</i> &lt;tag&gt; <a href="https://t.me/x">link</a> <pre><code class="language-py">p</code></pre>'
    msg = await api.ok("sendMessage", chat_id=1, text=source, parse_mode="HTML")
    assert msg["text"] == "😀 x <tag> link p"
    assert msg["entities"] == [
        {"type": "italic", "offset": 3, "length": 1},
        {"type": "text_link", "offset": 11, "length": 4, "url": "https://t.me/x"},
        {"type": "pre", "offset": 16, "length": 1, "language": "py"},
    ]
    view = (await api.chat(1))["messages"][-1]
    assert (view["text"], view["html"]) == (msg["text"], source)


async def test_bad_html_is_refused_with_telegrams_words(api: Api):
    await api.say(1, "hi")
    cases = {
        "<b>bold": 'Can\'t find end tag corresponding to start tag "b"',
        "<blink>x</blink>": 'Unsupported start tag "blink" at byte offset 0',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "x</b>": "Unexpected end tag at byte offset 1",
        "é <span>s</span>": 'Tag "span" must have class "tg-spoiler" at byte offset 3',
        "a < b": 'Unsupported start tag "" at byte offset 2',
    }
    for text, reason in cases.items():
        assert await api.fails("sendMessage", chat_id=1, text=text, parse_mode="HTML") == (
            400,
            f"Bad Request: can't parse entities: {reason}",
        ), text
    assert await api.fails("sendMessage", chat_id=1, text="x", parse_mode="Klingon") == (
        400,
        "Bad Request: unsupported parse_mode",
    )


async def test_length_is_counted_after_parsing(api: Api):
    await api.config(limits=False)
    await api.say(1, "hi")
    fits = await api.ok("sendMessage", chat_id=1, text="<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(fits["text"]) == 4096
    assert await api.fails("sendMessage", chat_id=1, text="a" * 4097) == (400, "Bad Request: message is too long")
    assert await api.fails("sendMessage", chat_id=1, text="   ") == (400, "Bad Request: message text is empty")
    assert await api.fails("sendMessage", chat_id=1) == (400, "Bad Request: message text is empty")


async def test_chat_errors(api: Api):
    assert await api.fails("sendMessage", chat_id=404, text="x") == (400, "Bad Request: chat not found")
    assert await api.fails("sendMessage", chat_id="garbage", text="x") == (400, "Bad Request: chat not found")
    assert await api.fails("sendMessage", text="x") == (400, "Bad Request: chat_id is empty")
    await api.channel("@ch_for_errors", bot_is_admin=False)
    await api.user(7, "join", chat="@ch_for_errors")  # user 7 exists now but never wrote to the bot
    assert await api.fails("sendMessage", chat_id=7, text="x") == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    assert await api.fails("sendMessage", chat_id="@ch_for_errors", text="x") == (
        403,
        "Forbidden: bot is not a member of the channel chat",
    )


async def test_blocked_user_gives_403_until_unblocked(api: Api):
    await api.say(8, "hi")
    await api.user(8, "block")
    assert await api.fails("sendMessage", chat_id=8, text="x") == (403, "Forbidden: bot was blocked by the user")
    await api.user(8, "unblock")
    assert (await api.ok("sendMessage", chat_id=8, text="back"))["text"] == "back"


async def test_callback_data_is_at_most_64_bytes(api: Api):
    await api.say(1, "hi")
    ok_data = "é" * 32  # 64 bytes in UTF-8
    sent = await api.ok(
        "sendMessage",
        chat_id=1,
        text="k",
        reply_markup={"inline_keyboard": [[{"text": "a", "callback_data": ok_data}]]},
    )
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == ok_data
    too_long = {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}
    assert await api.fails("sendMessage", chat_id=1, text="k", reply_markup=too_long) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    bare = {"inline_keyboard": [[{"text": "a"}]]}
    assert await api.fails("sendMessage", chat_id=1, text="k", reply_markup=bare) == (
        400,
        "Bad Request: text buttons are unallowed in the inline keyboard",
    )
    assert await api.fails("sendMessage", chat_id=1, text="k", reply_markup="{not json") == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )


async def test_keyboard_as_json_text_in_a_form(api: Api):
    await api.say(1, "hi")
    status, body = await api.call("sendMessage", files={}, chat_id="1", text="k", reply_markup=json.dumps(KEYBOARD))
    assert status == 200 and body["result"]["reply_markup"] == KEYBOARD


async def test_replies_by_id_or_reply_parameters(api: Api):
    await api.config(limits=False)
    asked = await api.say(1, "question")
    old_style = await api.ok("sendMessage", chat_id=1, text="a1", reply_to_message_id=asked)
    new_style = await api.ok("sendMessage", chat_id=1, text="a2", reply_parameters={"message_id": asked})
    for msg in (old_style, new_style):
        replied = msg["reply_to_message"]
        assert (replied["message_id"], replied["text"], replied["from"]["id"]) == (asked, "question", 1)
        assert "reply_to_message" not in replied
    assert await api.fails("sendMessage", chat_id=1, text="x", reply_to_message_id=999) == (
        400,
        "Bad Request: message to be replied not found",
    )
    loose = await api.ok(
        "sendMessage", chat_id=1, text="x", reply_parameters={"message_id": 999, "allow_sending_without_reply": True}
    )
    assert "reply_to_message" not in loose
    assert (await api.chat(1))["messages"][1]["reply_to_message_id"] == asked
