"""What a user does in inline mode (see `sandbox.inline`): type a query, choose a result."""

from __future__ import annotations

from typing import Any

from sandbox import render
from sandbox.inline import CHAT_TYPES, MAX_QUERY_CHARS, InlineQuery
from sandbox.model import Message
from sandbox.world import SimulationError, World, now


def user_types(
    world: World, user_id: int, query: str, chat_type: str = "private", **profile: str | None
) -> InlineQuery:
    """The user types `@bot <query>` in their target chat: the bot gets an inline_query."""
    if len(query) > MAX_QUERY_CHARS:
        raise SimulationError(400, f"an inline query is at most {MAX_QUERY_CHARS} characters")
    if chat_type not in CHAT_TYPES:
        raise SimulationError(400, f"chat_type must be one of {', '.join(CHAT_TYPES)}")
    p = world.person(user_id, **profile)
    world.inline.target(user_id)
    asked = world.inline.ask(user_id, query, chat_type)
    payload = {"id": asked.id, "from": render.person(p), "query": query, "offset": "", "chat_type": chat_type}
    world.updates.push("inline_query", payload)
    world.notify(user_id)
    return asked


def user_chooses(world: World, user_id: int, result_id: str, query_id: str | None = None) -> tuple[Message, str | None]:
    """The user picks a result of the bot's answer: it is sent to the target chat "via @bot", and
    the bot gets a chosen_inline_result (with an inline_message_id when it has a keyboard)."""
    query_id = query_id or world.inline.latest.get(user_id)
    asked = world.inline.queries.get(query_id or "")
    if asked is None or asked.user_id != user_id:
        raise SimulationError(404, f"user {user_id} has typed no inline query {query_id or ''}".rstrip())
    if not asked.answered:
        raise SimulationError(409, "the bot has not answered the inline query yet")
    offer = asked.offers.get(result_id)
    if offer is None:
        raise SimulationError(404, f"the bot offered no result {result_id!r}; it offered {list(asked.offers)}")
    p = world.person(user_id)
    chat = world.inline.target(user_id)
    fields: dict[str, Any] = dict(offer.message)
    msg = Message(chat.new_message_id(), chat.id, from_bot=False, date=now(), via_bot=True, **fields)
    chat.messages[msg.message_id] = msg
    inline_id = world.inline.sent(user_id, msg) if msg.reply_markup else None
    payload: dict[str, Any] = {"result_id": result_id, "from": render.person(p), "query": asked.query}
    if inline_id is not None:
        payload["inline_message_id"] = inline_id
    world.updates.push("chosen_inline_result", payload)
    world.notify(user_id)
    return msg, inline_id
