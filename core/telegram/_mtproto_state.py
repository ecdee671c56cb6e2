"""The session file with an update state that moves only when the receiver confirms.

kurigram remembers how far it has read the account's update stream (pts, qts, date, seq) in the
session file, and on start asks Telegram for everything after it (`updates.getDifference`, with
`skip_updates=False`). Left alone it records a position as soon as an update arrives, before our
receiver has handled it; a stop would then skip whatever was still on its way to the gateway.
`HeldStateStorage` keeps pyrogram's SQLite session but holds back the account's position (state
id 0): pyrogram's own writes of it only become *proposals*, and the adapter writes a position
with `confirm()` once the updates before it are handled. Channel positions (other ids) are
written as pyrogram wants, because the bot does not consume channel posts as updates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pyrogram.storage import SQLiteStorage, UpdateState

ACCOUNT_STATE = 0  # pyrogram's state id for the account-wide (non-channel) update stream


@dataclass(frozen=True)
class ResumePoint:
    """Where to resume the update stream once an update (and all before it) is handled."""

    pts: int | None = None
    qts: int | None = None
    date: int | None = None

    def merge(self, other: ResumePoint | None) -> ResumePoint:
        if other is None:
            return self
        return ResumePoint(_max(self.pts, other.pts), _max(self.qts, other.qts), _max(self.date, other.date))


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class HeldStateStorage(SQLiteStorage):
    """pyrogram's SQLite session storage whose account update state is written only on confirm."""

    def __init__(self, name: str, workdir: Path) -> None:
        super().__init__(name, workdir=workdir)
        self.on_proposal: Callable[[UpdateState], None] | None = None
        self._have_account_row = False

    async def set_update_state(self, update_state: UpdateState | Iterable[UpdateState]) -> None:
        states = [update_state] if isinstance(update_state, UpdateState) else list(update_state)
        passed = []
        for state in states:
            if state.id == ACCOUNT_STATE and self._account_row_exists():
                if self.on_proposal is not None:
                    self.on_proposal(state)
            elif state.id != ACCOUNT_STATE and state.pts is None:
                # kurigram files the qts of a channel member update under the channel's id, with
                # no pts; its next gap recovery would then ask that channel's difference from
                # pts None and fail to start. qts is the account's, kept in state 0.
                continue
            else:
                passed.append(state)
        if passed:
            await super().set_update_state(passed)

    # Plain methods (sqlite3 is synchronous): the trio side calls them without crossing into asyncio.

    def committed(self) -> ResumePoint:
        """The position the session file holds now."""
        row = self.conn.execute("SELECT pts, qts, date FROM update_state WHERE id = ?", (ACCOUNT_STATE,)).fetchone()
        return ResumePoint(*row) if row else ResumePoint()

    def write_resume_point(self, point: ResumePoint) -> None:
        """Persist `point` as the account's position, durably (committed at once)."""
        self.conn.execute(
            "UPDATE update_state SET pts = COALESCE(?, pts), qts = COALESCE(?, qts), date = COALESCE(?, date)"
            " WHERE id = ?",
            (point.pts, point.qts, point.date, ACCOUNT_STATE),
        )
        self.conn.commit()

    def _account_row_exists(self) -> bool:
        # The very first position (from updates.getState on a new session) goes straight in:
        # without one pyrogram would have nothing to ask the difference from.
        if not self._have_account_row:
            row = self.conn.execute("SELECT 1 FROM update_state WHERE id = ?", (ACCOUNT_STATE,)).fetchone()
            self._have_account_row = row is not None
        return self._have_account_row
