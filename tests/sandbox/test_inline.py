"""Inline mode: a user types `@bot <link>` (an inline_query update), the bot answers with cached
files and an article with a keyboard, the user chooses one (a chosen_inline_result, with an
inline_message_id only for a result with a keyboard); the bot edits that message by its
inline_message_id, in the user's target chat, from text into the video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox.support import Api

USER = 11
LINK = "https://www.youtube.com/watch?v=abc&t=90"
KEYBOARD = {"inline_keyboard": [[{"text": "⏳", "callback_data": "inline:wait"}]]}


async def _video(api: Api, sample_media: Path) -> str:
    """A video the bot uploaded earlier (to its storage chat, in the bot): its file_id."""
    await api.say(USER, "/start")
    data = (sample_media / "sample.mp4").read_bytes()
    sent = await api.ok("sendVideo", files={"video": ("v.mp4", data, "video/mp4")}, chat_id=USER)
    return str(sent["video"]["file_id"])


async def _typed(api: Api, query: str) -> dict[str, Any]:
    """The user types the query; the inline_query update the bot receives."""
    query_id = (await api.user(USER, "inline", query=query, first_name="مریم", language_code="fa"))["inline_query_id"]
    updates = await api.updates(timeout=0)
    found = [u["inline_query"] for u in updates if "inline_query" in u]
    assert found and found[-1]["id"] == query_id, updates
    return dict(found[-1])


async def _inline(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(f"/sandbox/users/{USER}/inline")
    assert response.status_code == 200
    return dict(response.json())


async def test_a_typed_query_reaches_the_bot_in_telegrams_shape(api: Api) -> None:
    await api.config(limits=False)
    query = await _typed(api, LINK)
    assert set(query) == {"id", "from", "query", "offset", "chat_type"}
    assert (query["query"], query["offset"], query["chat_type"]) == (LINK, "", "private")
    assert query["from"] == {"id": USER, "is_bot": False, "first_name": "مریم", "language_code": "fa"}
    me = await api.ok("getMe")
    assert me["supports_inline_queries"] is True


async def test_cached_files_are_offered_and_a_chosen_one_arrives_in_the_target_chat(
    api: Api, http: httpx.AsyncClient, sample_media: Path
) -> None:
    await api.config(limits=False)
    file_id = await _video(api, sample_media)
    doc = await api.ok("sendDocument", files={"document": ("a.txt", b"subtitles", "text/plain")}, chat_id=USER)
    query = await _typed(api, LINK)
    results = [
        {
            "type": "video",
            "id": "v720",
            "video_file_id": file_id,
            "title": "720p",
            "caption": "<b>ویدیو</b>",
            "parse_mode": "HTML",
        },
        {"type": "document", "id": "d", "document_file_id": doc["document"]["file_id"], "title": "as a file"},
    ]
    assert (
        await api.ok("answerInlineQuery", inline_query_id=query["id"], results=results, cache_time=0, is_personal=True)
        is True
    )
    shown = (await _inline(http))["query"]
    assert shown["answered"] is True and [r["id"] for r in shown["results"]] == ["v720", "d"]
    assert (shown["cache_time"], shown["is_personal"]) == (0, True)

    chosen = await api.user(USER, "inline", result_id="v720")
    assert chosen["inline_message_id"] is None  # no keyboard: nothing for the bot to edit it by
    [update] = [u["chosen_inline_result"] for u in await api.updates(timeout=0) if "chosen_inline_result" in u]
    assert update == {"result_id": "v720", "from": update["from"], "query": LINK}
    [sent] = (await _inline(http))["target"]["messages"]
    assert sent["from"] == "user" and sent["via_bot"] is True
    assert sent["media"]["kind"] == "video" and sent["media"]["file_id"] == file_id and sent["caption"] == "ویدیو"
    status, said = await api.fails("answerInlineQuery", inline_query_id=query["id"], results=[])
    assert (status, said) == (400, "Bad Request: query is too old and response timeout expired or query ID is invalid")


async def test_an_article_with_a_keyboard_is_edited_by_its_inline_message_id_into_the_video(
    api: Api, http: httpx.AsyncClient, sample_media: Path
) -> None:
    await api.config(limits=False)
    file_id = await _video(api, sample_media)
    query = await _typed(api, LINK)
    article = {
        "type": "article",
        "id": "get",
        "title": "⬇️ Send this video",
        "input_message_content": {"message_text": "⏳ <i>0%</i>", "parse_mode": "HTML"},
        "reply_markup": KEYBOARD,
    }
    await api.ok("answerInlineQuery", inline_query_id=query["id"], results=[article])
    chosen = await api.user(USER, "inline", result_id="get")
    inline_id = chosen["inline_message_id"]
    assert isinstance(inline_id, str) and len(inline_id) > 16
    [update] = [u["chosen_inline_result"] for u in await api.updates(timeout=0) if "chosen_inline_result" in u]
    assert update["inline_message_id"] == inline_id and update["result_id"] == "get"

    assert await api.ok("editMessageText", inline_message_id=inline_id, text="⏳ 50%", reply_markup=KEYBOARD) is True
    media = {"type": "video", "media": file_id, "caption": "✅ آماده", "start_timestamp": 90}
    assert await api.ok("editMessageMedia", inline_message_id=inline_id, media=media) is True
    [msg] = (await _inline(http))["target"]["messages"]
    assert msg["media"]["kind"] == "video" and msg["media"]["file_id"] == file_id
    assert msg["caption"] == "✅ آماده" and msg["edit_count"] == 2 and msg["reply_markup"] is None
    assert msg["media"]["start_timestamp"] == 90
    # The bot cannot reach the target chat any other way, nor upload into an inline message.
    status, said = await api.fails(
        "editMessageMedia",
        files={"v": ("v.mp4", (sample_media / "sample.mp4").read_bytes(), "video/mp4")},
        inline_message_id=inline_id,
        media=json.dumps({"type": "video", "media": "attach://v"}),
    )
    assert status == 400 and "file_id" in said
    status, said = await api.fails("editMessageText", inline_message_id="nope", text="x")
    assert (status, said) == (400, "Bad Request: MESSAGE_ID_INVALID")


ARTICLE = {"type": "article", "title": "t", "input_message_content": {"message_text": "x"}}
NO_TEXT = 'Bad Request: can\'t parse InlineQueryResult: Field "message_text" must be of type String'
BAD_ANSWERS = [
    ("duplicate ids", [{**ARTICLE, "id": "a"}] * 2, "Bad Request: RESULT_ID_DUPLICATE"),
    ("too many", [{**ARTICLE, "id": str(i)} for i in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
    ("id too long", [{**ARTICLE, "id": "x" * 65}], "Bad Request: RESULT_ID_INVALID"),
    ("article without content", [{"type": "article", "id": "a", "title": "t"}], NO_TEXT),
    (
        "unknown file",
        [{"type": "video", "id": "v", "video_file_id": "BAACnope", "title": "t"}],
        "Bad Request: wrong file identifier/HTTP URL specified",
    ),
    (
        "a url",
        [
            {
                "type": "photo",
                "id": "p",
                "photo_url": "https://example.com/a.jpg",
                "thumbnail_url": "https://e.com/a.jpg",
            }
        ],
        "Bad Request: failed to get HTTP URL content",
    ),
    ("unknown type", [{"type": "game", "id": "g", "game_short_name": "x"}], "Bad Request: RESULT_TYPE_INVALID"),
]


@pytest.mark.parametrize(("case", "results", "description"), BAD_ANSWERS, ids=[c[0] for c in BAD_ANSWERS])
async def test_a_bad_answer_is_refused_and_the_query_can_still_be_answered(
    api: Api, case: str, results: list[Any], description: str
) -> None:
    await api.config(limits=False)
    query = await _typed(api, "https://example.com/v")
    status, said = await api.fails("answerInlineQuery", inline_query_id=query["id"], results=results)
    assert (status, said) == (400, description)
    good = [{"type": "article", "id": "ok", "title": "t", "input_message_content": {"message_text": "ok"}}]
    assert await api.ok("answerInlineQuery", inline_query_id=query["id"], results=good) is True


async def test_a_join_button_above_the_results_is_kept_for_the_user(api: Api, http: httpx.AsyncClient) -> None:
    await api.config(limits=False)
    query = await _typed(api, "https://example.com/v")
    button = {"text": "عضو کانال شوید", "start_parameter": "join"}
    await api.ok("answerInlineQuery", inline_query_id=query["id"], results=[], button=button)
    assert (await _inline(http))["query"]["button"] == button
    status, said = await api.fails(
        "answerInlineQuery",
        inline_query_id=(await _typed(api, "x"))["id"],
        results=[],
        button={"text": "b", "start_parameter": "bad param!"},
    )
    assert (status, said) == (400, "Bad Request: START_PARAM_INVALID")


async def test_choosing_needs_an_answer_and_an_offered_result(api: Api, http: httpx.AsyncClient) -> None:
    await api.config(limits=False)
    await _typed(api, "https://example.com/v")
    early = await http.post(f"/sandbox/users/{USER}/inline", json={"result_id": "x"})
    assert early.status_code == 409
    long_query = await http.post(f"/sandbox/users/{USER}/inline", json={"query": "x" * 257})
    assert long_query.status_code == 400
