"""Sponsor locks: who must join which channel, the membership cache, prompts, held links, joins.

A lock is a row of `sponsors`; the active ones are kept in memory (reloaded after any change)
because every link asks about them. Membership is asked of Telegram before the update's
transaction (`verify`, async) and cached in memory, bounded: members for MEMBER_CACHE_TTL,
non-members for NONMEMBER_CACHE_TTL. Inside the transaction (`verdict`, sync) the cache is the
answer, so a verified user costs no call at all. Whatever a check found out about a lock (the bot
cannot check it, or can again) is written and told to the admins in the next transaction.

What a check that gets no answer means: a lock the bot cannot check at all (not an admin there)
is skipped for everyone and alerted; a timeout or a network error lets the user through this time
(one slow answer never blocks everyone); a FloodWait lets nobody through unchecked: until it is
over nothing is asked, and a user with no cached answer hears "try again in N s" and keeps their
links. "I've joined" asks again at most once per JOIN_RECHECK_INTERVAL per user (`recheck`).

A user who misses a lock gets one prompt (at most once per NOTICE_INTERVAL) with a join button
per missing channel and "I've joined"; the links are kept in `held_links` and are released once the
user passes, by the button or with their next link, through the same limits as new links
(`gateway.gates`). `sponsor_users` records what became of each user shown a lock; a join is
credited once, the first time a user who was shown the lock is a member.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import sqlite_utils
import trio

from core import metrics
from core.alerts import alert, resolve
from core.config import Settings
from core.logs import uid
from core.payloads import Button, Keyboard
from core.status import wait_text
from core.telegram import BadRequest, ChatMemberChange, ChatNotFound, FloodWait, TelegramError, TelegramPort
from gateway.context import Request
from gateway.limits import notice_due
from gateway.member_cache import Clock, MemberCache

log = logging.getLogger("gateway.locks")

ACTION_JOINED = "j"  # callback action of the "I've joined" button: j|<held id>
PRESENT = frozenset({"creator", "administrator", "member", "restricted"})
CHECK_TIMEOUT_S = 10.0  # a membership check slower than this counts as not answered (fail open)
UNCHECKED_RETRY_S = 300.0  # a lock the bot could not check is tried again after this long
HELD_PER_USER_MAX = 20  # messages held for one user at once; more are not kept (a flood of a non-member)
NOTICE_PROMPT, NOTICE_LATER = "prompt", "lock_later"  # notice kinds: the join prompt, "can't check now"
# Telegram's words for "no such user" (the user's problem, not the lock's): a non-member.
USER_HINTS = ("user not found", "user_id_invalid", "participant_id_invalid", "user_not_participant")

_LOCK_COLUMNS = "id, chat_id, username, title, invite_link, join_goal, joins_counted, expires_at, unchecked_at"


@dataclass
class Lock:
    id: int
    chat_id: int | None
    username: str | None
    title: str
    invite_link: str | None
    join_goal: int | None
    joins_counted: int
    expires_at: float | None
    unchecked_at: float | None
    ended: bool = False  # ended by this transaction (the list is reloaded after it)

    @property
    def ref(self) -> int | str:
        """What get_chat_member is asked about: the id once known (stable), else @username."""
        return self.chat_id if self.chat_id is not None else f"@{self.username}"

    @property
    def name(self) -> str:
        return f"@{self.username}" if self.username else (self.title or str(self.chat_id))

    @property
    def url(self) -> str:
        return self.invite_link or f"https://t.me/{self.username}"


def load_active(db: sqlite_utils.Database) -> list[Lock]:
    rows = db.execute(f"SELECT {_LOCK_COLUMNS} FROM sponsors WHERE active = 1 ORDER BY position, id").fetchall()
    return [Lock(*row) for row in rows]


# ---- what became of a user shown a lock ------------------------------------------------------------


def transition(status: str | None, member: bool, shown: bool) -> str | None:
    """The user's new sponsor_users status (None: no row), seen as `member` or not; `shown`: they
    are being shown the lock now (a check at the gate), not merely seen in a chat-member update."""
    if member:
        if status is None:
            return "already" if shown else None
        return "joined" if status in ("shown", "left") else status
    if status == "joined":
        return "left"
    if status is None or status == "already":
        return "shown" if shown else status
    return status


@dataclass
class Findings:
    """What checks outside a transaction learnt about locks, written by the next one."""

    broken: dict[int, str] = field(default_factory=dict)  # lock id -> why it cannot be checked
    working: set[int] = field(default_factory=set)  # locks that were unchecked and answered


@dataclass(frozen=True)
class Verdict:
    """Where a user stands with the locks, by the cache."""

    missing: list[Lock]  # known not to have joined
    unknown: list[Lock]  # could not be asked about (a FloodWait): try again in `retry_in` seconds
    retry_in: float = 0.0

    @property
    def passes(self) -> bool:
        return not self.missing and not self.unknown


class Locks:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, clock: Clock = time.time) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.port: TelegramPort | None = None  # set once connected; without it nothing is asked
        self.cache = MemberCache(settings.member_cache_size, settings.member_cache_ttl, settings.nonmember_cache_ttl)
        self.active: list[Lock] = load_active(db)
        self.stale = False  # a transaction changed sponsors: reload before the next update
        self.findings = Findings()
        self.probes: dict[int | str, str | None] = {}  # /addsponsor's check: ref -> why not (None: fine)
        self.calls = 0  # get_chat_member calls made (for tests and the benchmark)
        self.flood_until = 0.0  # a FloodWait: nothing is asked about members before this (clock time)
        self.rechecks: OrderedDict[int, float] = OrderedDict()  # user -> when "I've joined" last asked

    def reload(self) -> None:
        """Read the active locks again if a transaction changed them (outside transactions)."""
        if self.stale:
            self.stale = False
            self.active = load_active(self.db)

    # ---- asking Telegram (before the transaction) ----------------------------------------------

    def _due(self, lock: Lock, now: float) -> bool:
        return lock.unchecked_at is None or now - lock.unchecked_at >= UNCHECKED_RETRY_S

    def flooded(self, now: float | None = None) -> float:
        """Seconds the last FloodWait still lasts (0: none)."""
        return max(0.0, self.flood_until - (self.clock() if now is None else now))

    async def verify(self, user_id: int, *, fresh: bool = False) -> None:
        """Ask about every lock this user has no cached answer for; `fresh` forgets the "not a
        member" answers first (the "I've joined" press). Answers that do not come are not cached.
        During a FloodWait nothing is asked (`verdict` then says "try again")."""
        if self.port is None or not self.active:
            return
        now = self.clock()
        if self.flooded(now):
            return
        if fresh:
            self.cache.forget(user_id, [lock.id for lock in self.active], members_too=False)
        due = [lock for lock in self.active if self._due(lock, now) and self.cache.get(user_id, lock.id) is None]
        if not due:
            return
        async with trio.open_nursery() as nursery:
            for lock in due:
                nursery.start_soon(self._ask, lock, user_id)

    async def recheck(self, user_id: int) -> float:
        """The "I've joined" press: ask afresh, at most once per JOIN_RECHECK_INTERVAL per user.
        Returns the seconds until this user may be asked about again (0: asked now, or nothing to ask)."""
        now = self.clock()
        last = self.rechecks.get(user_id)
        interval = self.settings.join_recheck_interval
        if last is not None and now - last < interval:
            await self.verify(user_id)  # only what the cache has forgotten meanwhile, if anything
            return interval - (now - last)
        if self.port is None or not self.active or self.flooded(now):
            return 0.0
        self.rechecks[user_id] = now
        self.rechecks.move_to_end(user_id)
        while len(self.rechecks) > self.settings.member_cache_size:
            self.rechecks.popitem(last=False)
        await self.verify(user_id, fresh=True)
        return 0.0

    async def _ask(self, lock: Lock, user_id: int) -> None:
        assert self.port is not None
        self.calls += 1
        with trio.move_on_after(CHECK_TIMEOUT_S) as scope:
            try:
                status = await self.port.get_chat_member(lock.ref, user_id)
            except (ChatNotFound, BadRequest) as exc:
                if any(hint in str(exc).lower() for hint in USER_HINTS):
                    self.cache.put(user_id, lock.id, False)
                    metrics.count("sponsor_checks", result="not_member")
                else:
                    self.findings.broken[lock.id] = str(exc) or type(exc).__name__
                    metrics.count("sponsor_checks", result="unchecked")
                return
            except FloodWait as exc:  # nobody is let through unchecked while it lasts
                if not self.flooded():  # once per FloodWait, not once per lock asked at the same time
                    log.warning(
                        "lock %d %s: checking user %s got a FloodWait of %.0f s; no checks, and no unchecked"
                        " user let through, until it is over",
                        lock.id,
                        lock.name,
                        uid(user_id),
                        exc.seconds,
                    )
                self.flood_until = max(self.flood_until, self.clock() + exc.seconds)
                return
            except TelegramError as exc:  # network: this time the lock does not hold anyone up
                log.warning(
                    "lock %d %s: checking user %s failed (%s); let through", lock.id, lock.name, uid(user_id), exc
                )
                metrics.count("sponsor_checks", result="error")
                return
        if scope.cancelled_caught:
            metrics.count("sponsor_checks", result="timeout")
            log.warning(
                "lock %d %s: no answer about user %s in %.0f s; let through",
                lock.id,
                lock.name,
                uid(user_id),
                CHECK_TIMEOUT_S,
            )
            return
        self.cache.put(user_id, lock.id, status in PRESENT)
        metrics.count("sponsor_checks", result="member" if status in PRESENT else "not_member")
        if lock.unchecked_at is not None:
            self.findings.working.add(lock.id)

    async def probe(self, ref: int | str, admin_id: int) -> None:
        """/addsponsor's check that the bot can see the channel's members (asks about the admin)."""
        if self.port is None:
            self.probes[ref] = "not connected"
            return
        reason: str | None = None
        with trio.move_on_after(CHECK_TIMEOUT_S) as scope:
            try:
                await self.port.get_chat_member(ref, admin_id)
            except (ChatNotFound, BadRequest) as exc:
                reason = str(exc) or type(exc).__name__
            except TelegramError as exc:
                reason = f"no answer: {exc}"
        self.probes[ref] = "no answer" if scope.cancelled_caught else reason

    # ---- inside the transaction ---------------------------------------------------------------

    def settle(self, db: sqlite_utils.Database) -> None:
        """Write what the last checks found out about locks, and tell the admins."""
        if not self.findings.broken and not self.findings.working:
            return
        found, self.findings = self.findings, Findings()
        now = self.clock()
        for lock in self.active:
            if lock.id in found.broken:
                reason = found.broken[lock.id]
                db.execute("UPDATE sponsors SET unchecked_at = ? WHERE id = ?", [now, lock.id])
                if lock.unchecked_at is None:
                    log.warning("lock %d %s cannot be checked (%s); skipped for users", lock.id, lock.name, reason)
                    alert_admins(
                        db,
                        self.settings,
                        f"lock_unchecked:{lock.id}",
                        "alert_lock_unchecked",
                        id=lock.id,
                        name=lock.name,
                        reason=reason,
                    )
                lock.unchecked_at = now
            elif lock.id in found.working:
                db.execute("UPDATE sponsors SET unchecked_at = NULL WHERE id = ?", [lock.id])
                log.info("lock %d %s can be checked again", lock.id, lock.name)
                resolve_alert(
                    db, self.settings, f"lock_unchecked:{lock.id}", "alert_lock_checkable", id=lock.id, name=lock.name
                )
                lock.unchecked_at = None
        self.stale = True

    def verdict(self, db: sqlite_utils.Database, user_id: int) -> Verdict:
        """The locks this user has not joined, by the cache, and those nobody could ask about
        (a FloodWait); records what became of the user."""
        self.settle(db)
        now = self.clock()
        missing, unknown = [], []
        for lock in self.active:
            if lock.ended:
                continue
            if lock.expires_at is not None and lock.expires_at <= now:
                self.end(db, lock, "expired")
                continue
            if lock.unchecked_at is not None:
                continue  # one broken lock never blocks everyone
            answer = self.cache.get(user_id, lock.id)
            if answer is None:
                if self.flood_until > now:
                    unknown.append(lock)
                continue  # otherwise Telegram did not answer in time: not held up this time
            if not answer.noted:
                self.observe(db, lock, user_id, answer.member, shown=True)
                answer.noted = True
            if not answer.member:
                missing.append(lock)
        # A join just credited may have ended a lock.
        return Verdict([lock for lock in missing if not lock.ended], unknown, self.flooded(now) if unknown else 0.0)

    def observe(self, db: sqlite_utils.Database, lock: Lock, user_id: int, member: bool, *, shown: bool) -> None:
        row = db.execute(
            "SELECT status, joined_at FROM sponsor_users WHERE sponsor_id = ? AND user_id = ?", [lock.id, user_id]
        ).fetchone()
        status, joined_at = (row[0], row[1]) if row else (None, None)
        new = transition(status, member, shown)
        if new is None or new == status:
            return
        now = self.clock()
        credit = new == "joined" and joined_at is None
        db.execute(
            "INSERT INTO sponsor_users (sponsor_id, user_id, status, shown_at, joined_at, left_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (sponsor_id, user_id) DO UPDATE SET status = ?3,"
            " shown_at = coalesce(shown_at, ?4), joined_at = coalesce(joined_at, ?5), left_at = ?6",
            [
                lock.id,
                user_id,
                new,
                now if new == "shown" else None,
                now if credit else None,
                now if new == "left" else None,
            ],
        )
        if credit:
            self._credit(db, lock, user_id)

    def _credit(self, db: sqlite_utils.Database, lock: Lock, user_id: int) -> None:
        [(count, goal)] = db.execute(
            "UPDATE sponsors SET joins_counted = joins_counted + 1 WHERE id = ? RETURNING joins_counted, join_goal",
            [lock.id],
        ).fetchall()
        lock.joins_counted = count
        log.info("lock %d %s: join of user %s credited (%d/%s)", lock.id, lock.name, uid(user_id), count, goal or "-")
        if goal is not None and count >= goal:
            self.end(db, lock, "cap")

    def end(self, db: sqlite_utils.Database, lock: Lock, reason: str) -> bool:
        """End a lock (cap, expired, removed); the admins are told of a cap or an expiry."""
        moved = db.execute(
            "UPDATE sponsors SET active = 0, ended_at = ?, end_reason = ? WHERE id = ? AND active = 1",
            [self.clock(), reason, lock.id],
        ).rowcount
        lock.ended = True
        self.stale = True
        if not moved:
            return False
        log.info("lock %d %s ended: %s (%d joins)", lock.id, lock.name, reason, lock.joins_counted)
        if reason in ("cap", "expired"):
            alert_admins(
                db,
                self.settings,
                f"lock_{reason}:{lock.id}",
                f"alert_lock_{reason}",
                lasting=False,  # a notice: nothing clears it
                id=lock.id,
                name=lock.name,
                count=lock.joins_counted,
            )
        return True

    def end_expired(self, db: sqlite_utils.Database) -> None:
        now = self.clock()
        for lock in self.active:
            if not lock.ended and lock.expires_at is not None and lock.expires_at <= now:
                self.end(db, lock, "expired")

    # ---- holding links and prompting -----------------------------------------------------------

    def hold(self, req: Request, message_id: int, urls: list[str], verdict: Verdict) -> None:
        """Keep the links until the user passes; prompt them (at most once per NOTICE_INTERVAL)."""
        now = self.clock()
        db, user_id = req.db, req.user.id
        locks = verdict.missing + verdict.unknown
        count, newest = db.execute(
            "SELECT count(*), max(id) FROM held_links WHERE user_id = ? AND released_at IS NULL AND expires_at > ?",
            [user_id, now],
        ).fetchone()
        held = newest
        if count < HELD_PER_USER_MAX:
            held = db.execute(
                "INSERT INTO held_links (user_id, chat_id, message_id, links, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [user_id, req.chat_id, message_id, json.dumps(urls), now, now + self.settings.held_link_ttl],
            ).lastrowid
            log.info("user %s: %d link(s) held behind %s", uid(user_id), len(urls), ", ".join(m.name for m in locks))
        else:
            log.warning("user %s has %d messages held already; %d link(s) not kept", uid(user_id), count, len(urls))
        if held is None:
            return
        if verdict.missing:
            if notice_due(db, user_id, NOTICE_PROMPT, self.settings.notice_interval, now):
                req.reply(req.t("lock_prompt"), self.prompt_keyboard(req, int(held), locks))
        elif notice_due(db, user_id, NOTICE_LATER, self.settings.notice_interval, now):
            names = html.escape(req.t("list_separator").join(lock.name for lock in locks))  # titles are anyone's
            body = req.t("lock_check_later", names=names, wait=wait_text(req.lang, verdict.retry_in))
            req.reply(body, self.prompt_keyboard(req, int(held), locks))

    def prompt_keyboard(self, req: Request, held_id: int, missing: list[Lock]) -> Keyboard:
        """A join button per channel (button texts are plain, never HTML), then "I've joined"."""
        rows = [
            [Button(text=req.t("lock_button_join", name=lock.title or lock.name), url=lock.url)] for lock in missing
        ]
        rows.append([Button(text=req.t("lock_button_check"), data=req.codec.encode(ACTION_JOINED, held_id))])
        return rows

    def has_waiting(self, db: sqlite_utils.Database, user_id: int, held_id: int | None = None) -> bool:
        """Has the user links waiting (that one, when `held_id` is given)?"""
        where, params = (
            ("user_id = ?", [user_id]) if held_id is None else ("id = ? AND user_id = ?", [held_id, user_id])
        )
        row = db.execute(
            f"SELECT 1 FROM held_links WHERE {where} AND released_at IS NULL AND expires_at > ?",
            [*params, self.clock()],
        ).fetchone()
        return row is not None

    def take_held(self, db: sqlite_utils.Database, user_id: int) -> list[tuple[int, list[str]]]:
        """The user passes now: their waiting links, oldest first, as (message id, links), marked
        released. Which of them become jobs is for the limits to say (`Gates.accept`)."""
        now = self.clock()
        rows = db.execute(
            "SELECT id, message_id, links FROM held_links WHERE user_id = ? AND released_at IS NULL"
            " AND expires_at > ? ORDER BY id",
            [user_id, now],
        ).fetchall()
        if not rows:
            return []
        db.execute(
            f"UPDATE held_links SET released_at = ? WHERE id IN ({','.join('?' * len(rows))})",
            [now, *(r[0] for r in rows)],
        )
        return [(int(message_id), [str(u) for u in json.loads(raw)]) for _id, message_id, raw in rows]

    # ---- chat-member updates ------------------------------------------------------------------

    def member_changed(self, db: sqlite_utils.Database, change: ChatMemberChange) -> None:
        """Someone joined or left a channel the bot administers: fresher than any cached answer."""
        chat = change.chat
        for lock in self.active:
            same_name = bool(lock.username and chat.username and lock.username.lower() == chat.username.lower())
            if lock.chat_id != chat.id and not same_name:
                continue
            if lock.chat_id is None:  # learnt the id of a lock added by @username
                db.execute(
                    "UPDATE sponsors SET chat_id = ?, title = ? WHERE id = ?", [chat.id, chat.title or "", lock.id]
                )
                lock.chat_id, lock.title = chat.id, chat.title or lock.title
            member = change.new_status in PRESENT
            self.cache.put(change.user.id, lock.id, member)
            self.observe(db, lock, change.user.id, member, shown=False)


def alert_admins(
    db: sqlite_utils.Database, settings: Settings, kind: str, text_key: str, *, lasting: bool = True, **values: object
) -> bool:
    """Tell every admin (in their language, at most once per ALERT_COOLDOWN per kind): the one
    place this part alerts."""
    return alert(db, settings, kind, text_key, values, lasting=lasting)


def resolve_alert(db: sqlite_utils.Database, settings: Settings, kind: str, text_key: str, **values: object) -> bool:
    """The alert `kind` cleared: tell the admins who heard of it."""
    return resolve(db, settings, kind, text_key, values)
