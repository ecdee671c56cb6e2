"""Bot API methods about receiving: getUpdates, answerCallbackQuery and the webhook trio."""

from __future__ import annotations

from typing import Any

from sandbox.context import Sandbox
from sandbox.errors import QUERY_TOO_OLD, bad_request
from sandbox.methods_text import Handler
from sandbox.params import Params
from sandbox.world import now

MAX_CALLBACK_ANSWER_CHARS = 200
DEFAULT_LIMIT = 100


async def get_updates(sb: Sandbox, p: Params) -> Any:
    queue = sb.world.updates
    queue.set_allowed(p.json("allowed_updates"))
    limit = p.integer("limit") or DEFAULT_LIMIT  # 0 or absent: the default, as on Telegram
    updates = await queue.get(p.integer("offset"), limit, p.number("timeout", 0.0))
    sb.stats.updates_delivered += len(updates)
    return updates


async def answer_callback_query(sb: Sandbox, p: Params) -> Any:
    query_id = p.text("callback_query_id") or ""
    text = p.text("text") or ""
    if len(text) > MAX_CALLBACK_ANSWER_CHARS:
        raise bad_request("MESSAGE_TOO_LONG")
    pending = sb.world.callbacks.get(query_id)
    if pending is None or pending.answered:
        raise bad_request(QUERY_TOO_OLD)
    pending.answered = True
    answer = {
        "callback_query_id": query_id,
        "message_id": pending.message_id,
        "data": pending.data,
        "text": text or None,
        "show_alert": p.flag("show_alert"),
        "url": p.text("url"),
        "date": now(),
    }
    sb.world.chats[pending.user_id].callback_answers.append(answer)
    sb.world.notify(pending.user_id)
    return True


async def delete_webhook(sb: Sandbox, p: Params) -> Any:
    if p.flag("drop_pending_updates"):
        sb.world.updates.drop_pending()
    return True


async def get_webhook_info(sb: Sandbox, p: Params) -> Any:
    return {"url": "", "has_custom_certificate": False, "pending_update_count": len(sb.world.updates)}


async def set_webhook(sb: Sandbox, p: Params) -> Any:
    raise bad_request("bad webhook: the sandbox delivers updates through getUpdates only")


METHODS: dict[str, Handler] = {
    "getUpdates": get_updates,
    "answerCallbackQuery": answer_callback_query,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setWebhook": set_webhook,
}
