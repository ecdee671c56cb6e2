"""The membership cache: (user, lock) -> Telegram's last answer, members trusted longer than
non-members (MEMBER_CACHE_TTL, NONMEMBER_CACHE_TTL), bounded (MEMBER_CACHE_SIZE, least recently
used dropped first). In memory: it is rebuilt by asking again after a restart."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class Answer:
    member: bool
    expires_at: float
    noted: bool = False  # sponsor_users already reflects it (no write until the answer changes)


class MemberCache:
    """(user, lock) -> the last answer, until its TTL; least recently used dropped past `size`."""

    def __init__(self, size: int, member_ttl: float, nonmember_ttl: float, clock: Clock = time.monotonic) -> None:
        self.size, self.member_ttl, self.nonmember_ttl, self.clock = size, member_ttl, nonmember_ttl, clock
        self._answers: OrderedDict[tuple[int, int], Answer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, user_id: int, lock_id: int) -> Answer | None:
        key = (user_id, lock_id)
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires_at <= self.clock():
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    def put(self, user_id: int, lock_id: int, member: bool) -> Answer:
        now = self.clock()
        answer = Answer(member, now + (self.member_ttl if member else self.nonmember_ttl))
        self._answers[(user_id, lock_id)] = answer
        self._answers.move_to_end((user_id, lock_id))
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return answer

    def forget(self, user_id: int, lock_ids: Sequence[int], *, members_too: bool = True) -> None:
        for lock_id in lock_ids:
            answer = self._answers.get((user_id, lock_id))
            if answer is not None and (members_too or not answer.member):
                del self._answers[(user_id, lock_id)]
