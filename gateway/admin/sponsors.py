"""/addsponsor, /delsponsor and /sponsors: managing the sponsor locks from the chat.

`/addsponsor <@channel | -100id | t.me link> [invite link] [max_joins] [days]`: a public channel
by its @name (or t.me/name), a private one by its -100 id and an invite link for the button.
max_joins 0 means no cap; days may be a decimal or carry a unit (30m, 12h, 7d). Adding a channel
that is locked already changes its cap and end. Before the command's transaction the gates check
that the bot can see the channel's members (`Locks.probe`); a lock it cannot check is added all
the same, skipped for users, and the admins are told.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from core.logs import uid
from core.telegram import IncomingMessage
from core.texts import digits
from gateway.admin.audit import admin_only, arguments, record
from gateway.context import Request
from gateway.locks import Lock, Locks, alert_admins, load_active

log = logging.getLogger("gateway.admin")

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
END_REASON_KEYS = {
    "cap": "admin_sponsor_end_cap",
    "expired": "admin_sponsor_end_expired",
    "removed": "admin_sponsor_end_removed",
}
_USERNAME = re.compile(r"^@?([A-Za-z0-9_]{3,32})$")
_PUBLIC_LINK = re.compile(r"^(?:https?://)?(?:t\.me|telegram\.me)/([A-Za-z0-9_]{3,32})/?$", re.IGNORECASE)
_INVITE_LINK = re.compile(r"^(?:https?://)?(?:t\.me|telegram\.me)/(?:\+|joinchat/)[\w-]+/?$", re.IGNORECASE)
_CHAT_ID = re.compile(r"^-\d{5,}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$", re.IGNORECASE)
ENDED_SHOWN = 5  # /sponsors also shows this many of the locks ended last


@dataclass(frozen=True)
class LockSpec:
    username: str | None = None
    chat_id: int | None = None
    invite_link: str | None = None
    join_goal: int | None = None
    lasts_s: float | None = None

    @property
    def ref(self) -> int | str:
        return self.chat_id if self.chat_id is not None else f"@{self.username}"


def parse_spec(args: list[str]) -> LockSpec | None:
    """The lock an /addsponsor names, or None when the words do not make one."""
    username, chat_id, invite, numbers = None, None, None, []
    for word in args:
        if _INVITE_LINK.match(word):
            invite = word if word.startswith("http") else f"https://{word}"
        elif match := _PUBLIC_LINK.match(word):
            username = match.group(1)
        elif _CHAT_ID.match(word):
            chat_id = int(word)
        elif word.startswith("@") and (match := _USERNAME.match(word)):
            username = match.group(1)
        elif match := _DURATION.match(word):
            numbers.append(match)
        else:
            return None
    if (username is None and chat_id is None) or (username is None and invite is None) or len(numbers) > 2:
        return None  # a private channel needs its invite link for the join button
    goal = None
    if numbers:
        first = numbers.pop(0)
        if first.group(2) and not numbers:  # "7d" alone is a length, not a cap
            numbers.append(first)
        elif first.group(2) or "." in first.group(1):
            return None
        else:
            goal = int(first.group(1)) or None
    lasts = None
    if numbers:
        amount, unit = numbers[0].group(1), (numbers[0].group(2) or "d").lower()
        lasts = float(amount) * UNITS[unit] or None
    return LockSpec(username, chat_id, invite, goal, lasts)


def _find(locks: Locks, ref: str) -> Lock | None:
    """An active lock by #number, @name or -100 id."""
    word = ref.strip()
    for lock in locks.active:
        if word.lstrip("#").isdigit() and int(word.lstrip("#")) == lock.id:
            return lock
        if lock.username and word.lstrip("@").lower() == lock.username.lower() and not word.lstrip("#").isdigit():
            return lock
        if lock.chat_id is not None and word == str(lock.chat_id):
            return lock
    return None


def _when(lang: str, at: float) -> str:
    return digits(lang, datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _terms(req: Request, goal: int | None, expires_at: float | None) -> str:
    cap = req.t("admin_sponsor_cap", count=digits(req.lang, goal)) if goal else ""
    ends = req.t("admin_sponsor_ends", when=_when(req.lang, expires_at)) if expires_at else ""
    return cap + ends


def add(locks: Locks, req: Request, msg: IncomingMessage) -> None:
    spec = parse_spec(arguments(msg))
    if spec is None:
        req.reply(req.t("admin_addsponsor_usage"))
        return
    now = time.time()
    expires_at = now + spec.lasts_s if spec.lasts_s else None
    reason = locks.probes.pop(spec.ref, None)
    unchecked_at = now if reason else None
    name = f"@{spec.username}" if spec.username else str(spec.chat_id)
    existing = next((lock for lock in locks.active if _same(lock, spec)), None)
    if existing is not None:
        req.db.execute(
            "UPDATE sponsors SET join_goal = ?, expires_at = ?, invite_link = coalesce(?, invite_link),"
            " unchecked_at = ? WHERE id = ?",
            [spec.join_goal, expires_at, spec.invite_link, unchecked_at, existing.id],
        )
        lock_id, key = existing.id, "admin_sponsor_updated"
    else:
        position = req.db.execute("SELECT coalesce(max(position), 0) + 1 FROM sponsors").fetchone()[0]
        lock_id = int(
            req.db.execute(
                "INSERT INTO sponsors (chat_id, username, title, invite_link, position, join_goal, created_by,"
                " created_at, expires_at, unchecked_at) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
                [
                    spec.chat_id,
                    spec.username,
                    spec.invite_link,
                    position,
                    spec.join_goal,
                    req.user.id,
                    now,
                    expires_at,
                    unchecked_at,
                ],
            ).lastrowid
            or 0
        )
        key = "admin_sponsor_added"
    locks.stale = True
    record(req.db, req.user.id, "addsponsor", f"#{lock_id} {' '.join(arguments(msg))}")
    log.info("admin %s: lock %d %s (cap %s, ends %s)", uid(req.user.id), lock_id, name, spec.join_goal, expires_at)
    body = req.t(
        key, id=digits(req.lang, lock_id), name=html.escape(name), terms=_terms(req, spec.join_goal, expires_at)
    )
    if reason:
        body += "\n" + req.t("admin_sponsor_unchecked", name=html.escape(name), reason=html.escape(reason))
        log.warning("lock %d %s cannot be checked (%s); skipped for users", lock_id, name, reason)
        alert_admins(
            req.db,
            req.settings,
            f"lock_unchecked:{lock_id}",
            "alert_lock_unchecked",
            id=lock_id,
            name=name,
            reason=reason,
        )
    req.reply(body)


def _same(lock: Lock, spec: LockSpec) -> bool:
    if spec.chat_id is not None and lock.chat_id == spec.chat_id:
        return True
    return bool(spec.username and lock.username and spec.username.lower() == lock.username.lower())


def remove(locks: Locks, req: Request, msg: IncomingMessage) -> None:
    args = arguments(msg)
    lock = _find(locks, args[0]) if args else None
    if lock is None:
        req.reply(
            req.t(
                "admin_delsponsor_usage" if not args else "admin_sponsor_unknown",
                ref=html.escape(args[0] if args else ""),
            )
        )
        return
    locks.end(req.db, lock, "removed")
    record(req.db, req.user.id, "delsponsor", f"#{lock.id} {lock.name}")
    req.reply(req.t("admin_sponsor_removed", id=digits(req.lang, lock.id), name=html.escape(lock.name)))


def figures(db: sqlite_utils.Database, lock_id: int) -> dict[str, int]:
    """Users per sponsor_users status: joined (credited), already members, shown only, left."""
    rows = db.execute("SELECT status, count(*) FROM sponsor_users WHERE sponsor_id = ? GROUP BY status", [lock_id])
    return {"joined": 0, "already": 0, "shown": 0, "left": 0, **dict(rows.fetchall())}


def show(locks: Locks, req: Request, msg: IncomingMessage) -> None:
    active = load_active(req.db)  # the truth, not the copy the gates use
    ended = req.db.execute(
        "SELECT id, coalesce('@' || username, nullif(title, ''), chat_id), joins_counted, end_reason FROM sponsors"
        " WHERE active = 0 ORDER BY ended_at DESC LIMIT ?",
        [ENDED_SHOWN],
    ).fetchall()
    if not active and not ended:
        req.reply(req.t("admin_sponsors_none"))
        return
    lines = [req.t("admin_sponsors_head")] if active else []
    for lock in active:
        lines.append(_line(req, lock.id, lock.name, lock.joins_counted, _terms(req, lock.join_goal, lock.expires_at)))
        if lock.unchecked_at is not None:
            lines.append(req.t("admin_sponsors_unchecked"))
    if ended:
        lines.append(req.t("admin_sponsors_ended"))
    for lock_id, name, joins, reason in ended:
        lines.append(_line(req, lock_id, str(name), joins, req.t(END_REASON_KEYS[reason])))
    req.reply("\n".join(lines))


def _line(req: Request, lock_id: int, name: str, joins: int, terms: str) -> str:
    counts = figures(req.db, lock_id)
    return req.t(
        "admin_sponsors_line",
        id=digits(req.lang, lock_id),
        name=html.escape(name),
        terms=terms,
        joins=digits(req.lang, joins),
        already=digits(req.lang, counts["already"]),
        shown=digits(req.lang, counts["shown"]),
        left=digits(req.lang, counts["left"]),
    )


def commands(locks: Locks) -> dict[str, Callable[[Request, IncomingMessage], None]]:
    def bound(handler: Callable[[Locks, Request, IncomingMessage], None]) -> Callable[[Request, IncomingMessage], None]:
        def run(req: Request, msg: IncomingMessage) -> None:
            handler(locks, req, msg)

        return admin_only(run)

    return {"/addsponsor": bound(add), "/delsponsor": bound(remove), "/sponsors": bound(show)}
