"""Bot API methods about the bot and chats: getMe, getChat, getChatMember, commands, chat actions."""

from __future__ import annotations

import re
from typing import Any

from sandbox import render
from sandbox.context import Sandbox
from sandbox.errors import bad_request, chat_not_found
from sandbox.methods_text import Handler, require_chat_id
from sandbox.params import Params

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_COMMANDS = 100
MAX_COMMAND_DESCRIPTION = 256
CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)


async def get_me(sb: Sandbox, p: Params) -> Any:
    return render.get_me(sb.world.bot_id)


async def get_chat(sb: Sandbox, p: Params) -> Any:
    chat = sb.world.resolve(require_chat_id(p))
    if chat.type == "private" and not sb.world.people[chat.id].started:
        raise chat_not_found()
    return render.chat_full_info(sb.world, chat)


async def get_chat_member(sb: Sandbox, p: Params) -> Any:
    chat = sb.world.resolve(require_chat_id(p))
    user_id = p.integer("user_id") or 0
    if user_id <= 0:
        raise bad_request("invalid user_id specified")
    world = sb.world
    if user_id == world.bot_id:
        bot = render.bot_user(world.bot_id)
        status = "member" if chat.type == "private" else ("administrator" if chat.bot_is_admin else "left")
        return render.chat_member(bot, status, chat.type)
    if chat.type == "private":
        if user_id != chat.id:
            raise bad_request("user not found")
        return render.chat_member(render.person(world.people[user_id]), "member", chat.type)
    if not chat.bot_is_admin:
        raise bad_request("member list is inaccessible")
    person = world.people.get(user_id)
    if person is None:
        raise bad_request("user not found")
    return render.chat_member(render.person(person), chat.status_of(user_id), chat.type)


def _scope_key(p: Params) -> str:
    scope = p.json("scope")
    kind = scope.get("type", "default") if isinstance(scope, dict) else "default"
    return f"{kind}:{p.text('language_code') or ''}"


async def set_my_commands(sb: Sandbox, p: Params) -> Any:
    commands = p.json("commands")
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise bad_request("can't parse commands JSON object")
    cleaned = []
    for item in commands:
        if not isinstance(item, dict) or not isinstance(item.get("command"), str):
            raise bad_request("can't parse BotCommand JSON object")
        if not _COMMAND.match(item["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        description = item.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": item["command"], "description": description})
    sb.world.commands[_scope_key(p)] = cleaned
    return True


async def get_my_commands(sb: Sandbox, p: Params) -> Any:
    return sb.world.commands.get(_scope_key(p), [])


async def delete_my_commands(sb: Sandbox, p: Params) -> Any:
    sb.world.commands.pop(_scope_key(p), None)
    return True


async def send_chat_action(sb: Sandbox, p: Params) -> Any:
    sb.world.writable(require_chat_id(p))
    if p.text("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "sendChatAction": send_chat_action,
}
