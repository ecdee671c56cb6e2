"""Long admin outputs in pages, turned with buttons: never one message over Telegram's 4,096
characters, never a list cut short.

A page holds at most PER_PAGE items, each clipped to LINE_CHARS, so a page stays far below the
limit whatever the items hold. The buttons carry the view's action and the page number; a press
builds that page again from the database (the list may have moved meanwhile: the page shows it
as it is now) and edits the message in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.payloads import Button, Edit, Keyboard
from core.telegram import CallbackQuery
from core.texts import digits
from gateway.context import Request

PER_PAGE = 10
LINE_CHARS = 300  # 10 such lines and a header stay far below 4,096 characters
OP_PAGE = "p"
TOAST_CHARS = 200  # Telegram shows at most 200 characters of a callback answer


@dataclass
class Page:
    text: str
    keyboard: Keyboard = field(default_factory=list)


def clip(line: str, limit: int = LINE_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def window(total: int, page: int, per_page: int = PER_PAGE) -> tuple[int, int, int]:
    """(first item, the page shown, pages): a page past the end shows the last one."""
    pages = max(1, -(-total // per_page))
    page = min(max(0, page), pages - 1)
    return page * per_page, page, pages


def nav(req: Request, action: str, page: int, pages: int, *args: int | str) -> list[Button]:
    """◀ n/N ▶, with a refresh in the middle; nothing to turn on a single page but the refresh."""
    here = Button(
        text=req.t("ap_page", page=page + 1, pages=pages), data=req.codec.encode(action, OP_PAGE, page, *args)
    )
    row = [here]
    if page > 0:
        row.insert(0, Button(text="◀", data=req.codec.encode(action, OP_PAGE, page - 1, *args)))
    if page + 1 < pages:
        row.append(Button(text="▶", data=req.codec.encode(action, OP_PAGE, page + 1, *args)))
    return row


def count_line(req: Request, first: int, shown: int, total: int) -> str:
    return req.t("ap_showing", first=digits(req.lang, first + 1), last=digits(req.lang, first + shown), total=total)


def show(req: Request, page: Page, query: CallbackQuery | None = None, toast: str | None = None) -> None:
    """A new message for a command; the pressed message edited in place for a button (with a
    short `toast` over the chat, if given)."""
    if query is None:
        req.reply(page.text, page.keyboard or None)
        return
    req.send(Edit(text=page.text, keyboard=page.keyboard or None, message_id=query.message_id))
    req.answer(query.id, clip(toast, TOAST_CHARS) if toast else None)


View = Callable[[Request, int], Page]
