"""Edits, deletions, copies and callback queries, and how they show in the user's chat."""

from __future__ import annotations

from tests.sandbox.support import Api

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
KEYBOARD = {"inline_keyboard": [[{"text": "Audio", "callback_data": "fmt:audio"}]]}


async def _conversation(api: Api) -> int:
    await api.config(limits=False)
    await api.say(1, "hi")
    return int((await api.ok("sendMessage", chat_id=1, text="Working… 10%", reply_markup=KEYBOARD))["message_id"])


async def test_edit_message_text_changes_what_the_user_sees(api: Api):
    mid = await _conversation(api)
    edited = await api.ok("editMessageText", chat_id=1, message_id=mid, text="<b>Done</b>", parse_mode="HTML")
    assert (edited["message_id"], edited["text"]) == (mid, "Done")
    assert edited["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert isinstance(edited["edit_date"], int) and edited["edit_date"] >= edited["date"]
    assert "reply_markup" not in edited  # an edit without reply_markup removes the keyboard, as on Telegram
    view = (await api.chat(1))["messages"][-1]
    assert (view["text"], view["edit_count"], view["reply_markup"]) == ("Done", 1, None)


async def test_not_modified_and_not_found(api: Api):
    mid = await _conversation(api)
    assert await api.fails(
        "editMessageText", chat_id=1, message_id=mid, text="Working… 10%", reply_markup=KEYBOARD
    ) == (
        400,
        NOT_MODIFIED,
    )
    assert await api.fails("editMessageReplyMarkup", chat_id=1, message_id=mid, reply_markup=KEYBOARD) == (
        400,
        NOT_MODIFIED,
    )
    assert await api.fails("editMessageText", chat_id=1, message_id=999, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert await api.fails("editMessageText", chat_id=1, message_id=1, text="x") == (
        400,
        "Bad Request: message can't be edited",
    )
    assert await api.fails("editMessageText", chat_id=55, message_id=1, text="x") == (
        400,
        "Bad Request: chat not found",
    )


async def test_edit_reply_markup_only(api: Api):
    mid = await _conversation(api)
    other = {"inline_keyboard": [[{"text": "Cancel", "callback_data": "cancel"}]]}
    edited = await api.ok("editMessageReplyMarkup", chat_id=1, message_id=mid, reply_markup=other)
    assert (edited["text"], edited["reply_markup"]) == ("Working… 10%", other)
    removed = await api.ok("editMessageReplyMarkup", chat_id=1, message_id=mid)
    assert "reply_markup" not in removed
    assert (await api.chat(1))["messages"][-1]["edit_count"] == 2


async def test_delete_then_edit_or_delete_again(api: Api):
    mid = await _conversation(api)
    assert await api.ok("deleteMessage", chat_id=1, message_id=mid) is True
    assert (await api.chat(1))["messages"][-1]["deleted"] is True
    assert await api.fails("deleteMessage", chat_id=1, message_id=mid) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert await api.fails("editMessageText", chat_id=1, message_id=mid, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )


async def test_copy_message_returns_only_the_new_id(api: Api):
    mid = await _conversation(api)
    await api.say(2, "me too")
    copied = await api.ok("copyMessage", chat_id=2, from_chat_id=1, message_id=mid)
    assert copied == {"message_id": 2}
    view = (await api.chat(2))["messages"][-1]
    assert (view["from"], view["text"], view["reply_markup"]) == ("bot", "Working… 10%", None)
    assert await api.fails("copyMessage", chat_id=2, from_chat_id=1, message_id=999) == (
        400,
        "Bad Request: message to copy not found",
    )


async def test_callback_query_round_trip(api: Api, http):
    mid = await _conversation(api)
    press = await http.post("/sandbox/users/1/callbacks", json={"message_id": mid, "data": "fmt:audio"})
    assert press.status_code == 200
    query_id = press.json()["callback_query_id"]
    assert isinstance(query_id, str) and query_id
    update = (await api.updates(timeout=0))[-1]
    assert set(update) == {"update_id", "callback_query"}
    query = update["callback_query"]
    assert set(query) == {"id", "from", "message", "chat_instance", "data"}
    assert (query["id"], query["data"], query["from"]["id"]) == (query_id, "fmt:audio", 1)
    assert (query["message"]["message_id"], query["message"]["reply_markup"]) == (mid, KEYBOARD)
    assert isinstance(query["chat_instance"], str)
    assert await api.ok("answerCallbackQuery", callback_query_id=query_id, text="Queued", show_alert=True) is True
    answers = (await api.chat(1))["callback_answers"]
    assert [(a["callback_query_id"], a["text"], a["show_alert"]) for a in answers] == [(query_id, "Queued", True)]
    assert await api.fails("answerCallbackQuery", callback_query_id=query_id) == (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )


async def test_pressing_a_button_that_is_not_there_is_refused(api: Api, http):
    mid = await _conversation(api)
    assert (await http.post("/sandbox/users/1/callbacks", json={"message_id": mid, "data": "nope"})).status_code == 400
    assert (await http.post("/sandbox/users/1/callbacks", json={"message_id": 99, "data": "x"})).status_code == 404


async def test_a_forged_press_delivers_data_no_button_carries(api: Api, http):
    mid = await _conversation(api)
    forged = {"message_id": mid, "data": "fmt:720|AAAAAAAAAAAA", "forged": True}
    assert (await http.post("/sandbox/users/1/callbacks", json=forged)).status_code == 200
    assert (await api.updates(timeout=0))[-1]["callback_query"]["data"] == "fmt:720|AAAAAAAAAAAA"
    for data in ("", "x" * 65, "ش" * 33):  # Telegram's 1-64 bytes
        bad = {"message_id": mid, "data": data, "forged": True}
        assert (await http.post("/sandbox/users/1/callbacks", json=bad)).status_code == 400
    assert (await http.post("/sandbox/users/1/callbacks", json={**forged, "forged": "yes"})).status_code == 400
