"""answerInlineQuery: the bot's results for an inline query, checked as Telegram checks them.

Each result becomes an offer: the message it turns into when the user chooses it (see
`sandbox.inline`). Results the bot needs are modelled: an article (a text message, with an
inline keyboard), and cached video, audio, document and photo by file_id, each with a caption or
an `input_message_content` instead. The sandbox fetches nothing, so results naming a URL are
refused. Up to 50 results, ids of 1-64 bytes, unique.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.context import Sandbox
from sandbox.errors import QUERY_TOO_OLD, bad_request
from sandbox.inline import Offer
from sandbox.markup import check_length, format_text, inline_keyboard
from sandbox.methods_media import reused_file
from sandbox.methods_text import Handler
from sandbox.params import Params

MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_OFFSET_BYTES = 64
_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# result type -> (field of the file_id, field of a URL, the kind of file, whether a title is required)
CACHED = {
    "video": ("video_file_id", "video_url", "video", True),
    "audio": ("audio_file_id", "audio_url", "audio", False),
    "document": ("document_file_id", "document_url", "document", True),
    "photo": ("photo_file_id", "photo_url", "photo", False),
}


def _parse_error(reason: str) -> Exception:
    return bad_request(f"can't parse InlineQueryResult: {reason}")


def _text_content(content: Any) -> dict[str, Any]:
    """InputTextMessageContent as the fields of a text message."""
    if not isinstance(content, dict) or not isinstance(content.get("message_text"), str):
        raise _parse_error('Field "message_text" must be of type String')
    plain, entities = format_text(content["message_text"], content.get("parse_mode"), content.get("entities"))
    check_length(plain, caption=False)
    source, mode = content["message_text"], content.get("parse_mode")
    return {"text": plain, "entities": entities, "source": source, "parse_mode": mode}


def _media_message(sb: Sandbox, result: dict[str, Any], kind: str) -> dict[str, Any]:
    file_field, url_field, file_kind, needs_title = CACHED[kind]
    if needs_title and not isinstance(result.get("title"), str):
        raise _parse_error('Field "title" must be of type String')
    ref = result.get(file_field)
    if not isinstance(ref, str) or not ref:
        if url_field in result:
            raise bad_request("failed to get HTTP URL content")  # the sandbox fetches nothing
        raise _parse_error(f'Field "{file_field}" must be of type String')
    stored = reused_file(sb, ref, file_kind)
    if "input_message_content" in result:
        return _text_content(result["input_message_content"])
    caption = result.get("caption") or ""
    plain, entities = format_text(caption, result.get("parse_mode"), result.get("caption_entities"))
    check_length(plain, caption=True)
    mode = result.get("parse_mode")
    return {"media": stored, "caption": plain, "entities": entities, "source": caption, "parse_mode": mode}


def _offer(sb: Sandbox, result: Any) -> tuple[str, Offer]:
    if not isinstance(result, dict):
        raise _parse_error("expected an Object")
    result_id, kind = result.get("id"), result.get("type")
    if not isinstance(kind, str):
        raise _parse_error('Field "type" must be of type String')
    if not isinstance(result_id, str):
        raise _parse_error('Field "id" must be of type String')
    if not 1 <= len(result_id.encode()) <= MAX_RESULT_ID_BYTES:
        raise bad_request("RESULT_ID_INVALID")
    if kind == "article":
        if not isinstance(result.get("title"), str):
            raise _parse_error('Field "title" must be of type String')
        message = _text_content(result.get("input_message_content"))
    elif kind in CACHED:
        message = _media_message(sb, result, kind)
    else:
        raise bad_request("RESULT_TYPE_INVALID")
    message["reply_markup"] = inline_keyboard(result.get("reply_markup"))
    return result_id, Offer(result, message)


def _button(raw: Any) -> dict[str, Any] | None:
    """InlineQueryResultsButton: a button above the results that opens the bot's private chat."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or not raw["text"]:
        raise bad_request("can't parse InlineQueryResultsButton")
    start = raw.get("start_parameter")
    if start is not None and (not isinstance(start, str) or not _START_PARAMETER.match(start)):
        raise bad_request("START_PARAM_INVALID")
    return {"text": raw["text"], "start_parameter": start}


async def answer_inline_query(sb: Sandbox, p: Params) -> Any:
    query_id = p.text("inline_query_id") or ""
    results = p.json("results")
    if results is None:
        raise bad_request('parameter "results" is required')
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    next_offset = p.text("next_offset") or ""
    if len(next_offset.encode()) > MAX_OFFSET_BYTES:
        raise bad_request("NEXT_OFFSET_INVALID")
    offers: dict[str, Offer] = {}
    for result in results:
        result_id, offer = _offer(sb, result)
        if result_id in offers:
            raise bad_request("RESULT_ID_DUPLICATE")
        offers[result_id] = offer
    button = _button(p.json("button"))
    asked = sb.world.inline.queries.get(query_id)
    if asked is None or asked.answered:
        raise bad_request(QUERY_TOO_OLD)
    asked.answered, asked.offers = True, offers
    asked.answer = {
        "cache_time": p.integer("cache_time", 300),
        "is_personal": p.flag("is_personal"),
        "next_offset": next_offset,
        "button": button,
    }
    sb.world.notify(asked.user_id)
    return True


METHODS: dict[str, Handler] = {"answerInlineQuery": answer_inline_query}
