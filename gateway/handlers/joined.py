"""The "I've joined" button under a lock's prompt: check again, then deliver the held links.

The gates forget the user's cached answers and ask Telegram afresh before this runs. A press
for links already delivered (a replay, a second press) is answered "expired" and changes nothing;
so is one whose links have expired. A join is credited once however often it is pressed.
"""

from __future__ import annotations

import logging

from core.callback_data import Callback
from core.logs import uid
from core.payloads import Edit
from core.telegram import CallbackQuery
from gateway.context import Request
from gateway.locks import Locks

log = logging.getLogger("gateway.joined")


def pressed(locks: Locks, req: Request, query: CallbackQuery, callback: Callback) -> None:
    held_id = callback.int_arg(0)
    if held_id is None or not locks.has_waiting(req.db, req.user.id, held_id):
        req.answer(query.id, req.t("button_expired"))
        return
    missing = locks.missing(req.db, req.user.id)
    if missing:
        names = req.t("list_separator").join(lock.name for lock in missing)
        log.info("user %s pressed 'joined' but misses %s", uid(req.user.id), names)
        req.answer(query.id, req.t("lock_not_yet", names=names), alert=True)
        return
    locks.release(req)
    req.answer(query.id, req.t("lock_thanks"))
    req.send(Edit(text=req.t("lock_released"), keyboard=None, message_id=query.message_id))
