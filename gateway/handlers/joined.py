"""The "I've joined" button under a lock's prompt: check again, then let the held links through.

The gates ask Telegram afresh before this runs, at most once per JOIN_RECHECK_INTERVAL per user;
a press sooner than that is told when to try again. So is a press during a FloodWait, when nobody
could be asked: the links stay held. A user still missing some locks is told which, and the
prompt is edited to show only those. Once they pass, the held links go through the same limits as
new links (`Gates.release`): the rest get the usual polite refusal. A press for links already
delivered (a replay, a second press) is answered "expired" and changes nothing; so is one whose
links have expired. A join is credited once however often it is pressed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.callback_data import Callback
from core.logs import uid
from core.payloads import Edit
from core.status import wait_text
from core.telegram import CallbackQuery
from gateway.context import Request

if TYPE_CHECKING:
    from gateway.gates import Gates

log = logging.getLogger("gateway.joined")


def pressed(gates: Gates, req: Request, query: CallbackQuery, callback: Callback) -> None:
    locks = gates.locks
    held_id = callback.int_arg(0)
    if held_id is None or not locks.has_waiting(req.db, req.user.id, held_id):
        req.answer(query.id, req.t("button_expired"))
        return
    verdict = locks.verdict(req.db, req.user.id)
    if verdict.unknown:
        log.info(
            "user %s pressed 'joined' during a FloodWait; to try again in %.0f s", uid(req.user.id), verdict.retry_in
        )
        req.answer(query.id, req.t("lock_check_later_press", wait=wait_text(req.lang, verdict.retry_in)))
        return
    if verdict.missing:
        wait = gates.recheck_wait(query)
        if wait > 0:
            req.answer(query.id, req.t("lock_recheck_wait", wait=wait_text(req.lang, wait)))
            return
        names = req.t("list_separator").join(lock.name for lock in verdict.missing)
        log.info("user %s pressed 'joined' but misses %s", uid(req.user.id), names)
        req.answer(query.id, req.t("lock_not_yet", names=names), alert=True)
        keyboard = locks.prompt_keyboard(req, held_id, verdict.missing)
        req.send(Edit(text=req.t("lock_prompt"), keyboard=keyboard, message_id=query.message_id))
        return
    taken = gates.release(req)
    req.answer(query.id, req.t("lock_thanks"))
    shown = req.t("lock_released") if taken else req.t("lock_thanks")
    req.send(Edit(text=shown, keyboard=None, message_id=query.message_id))
