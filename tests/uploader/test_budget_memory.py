"""The send budget across an uploader restart, on trio's autojump clock and a real SQLite file: a
FloodWait (the bot's or one chat's) is waited out to its end by the next uploader, and a restart
does not send on top of the last second's sends (replayed against the sandbox's own limiter)."""

from __future__ import annotations

import json
import logging
from functools import partial

import pytest
import trio

from core.db import open_db
from core.outbox import PRIORITY_ANSWER
from tests.uploader.test_throttle import RATE, SETTINGS, SLOT, Grant, Log, replay_at_the_sandbox, send
from uploader import budget_memory
from uploader.throttle import Pauses, SendBudget

WALL_AT_ZERO = 1_800_000_000.0  # the wall clock when the trio clock reads 0


def wall() -> float:
    return WALL_AT_ZERO + trio.current_time()


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "bot.sqlite3", busy_timeout=5)
    yield db
    db.close()


def first_process(db) -> SendBudget:
    budget = SendBudget(SETTINGS)
    budget.on_flood = lambda pauses: budget_memory.save(db, pauses, wall)
    return budget


def next_process(db) -> SendBudget:
    """What `uploader.main` does at start."""
    budget = SendBudget(SETTINGS)
    budget.resume(budget_memory.load(db, wall))
    return budget


async def granted_at(budget: SendBudget, chat: int) -> float:
    await budget.acquire(chat, PRIORITY_ANSWER)
    return trio.current_time()


async def test_a_flood_wait_for_the_bot_is_waited_out_by_the_next_uploader(db, autojump_clock):
    first_process(db).flood(1001, 30.0, "global")
    await trio.sleep(10)  # the uploader dies and is back 10 s later
    budget = next_process(db)
    assert budget.pauses().everything == pytest.approx(20.0)
    assert await granted_at(budget, 1002) == pytest.approx(30.0)


async def test_a_chat_flood_wait_is_waited_out_and_other_chats_go_after_the_first_second(db, autojump_clock):
    first = first_process(db)
    first.flood(-1007, 20.0, "chat")  # a group's slow mode
    await trio.sleep(5)
    budget = next_process(db)
    pauses = budget.pauses()
    assert pauses.everything == pytest.approx(1.0) and pauses.chats == {-1007: pytest.approx(15.0)}
    async with trio.open_nursery() as nursery:
        times: dict[int, float] = {}

        async def one(chat: int) -> None:
            times[chat] = await granted_at(budget, chat)

        nursery.start_soon(one, -1007)
        nursery.start_soon(one, 1008)
    assert times[-1007] == pytest.approx(20.0)
    assert times[1008] == pytest.approx(6.0)  # one second after the restart: the window's span


async def test_pauses_that_ended_are_not_restored(db, autojump_clock):
    first = first_process(db)
    first.flood(1, 3.0, "global")
    first.flood(-5, 4.0, "chat")
    await trio.sleep(60)
    assert budget_memory.load(db, wall) == Pauses()
    first.flood(-6, 8.0, "chat")  # recorded again: only what still runs
    row = json.loads(db.execute("SELECT value FROM settings WHERE key = ?", [budget_memory.SETTING_KEY]).fetchone()[0])
    assert row == {"until": 0.0, "chats": {"-6": pytest.approx(wall() + 8.0)}}


async def test_an_unreadable_record_is_logged_and_ignored(db, caplog, autojump_clock):
    db.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 0)",
        [budget_memory.SETTING_KEY, json.dumps({"until": "soon", "chats": []})],
    )
    assert budget_memory.load(db, wall) == Pauses()
    assert "unreadable" in caplog.text


async def restart_under_load(*, resume: bool) -> list[Grant]:
    """An uploader sending at the full rate (26 chats, then three answers to one chat that arrive
    together) is killed at 1 s, and a new one starts at once with 60 answers waiting, one of them
    to that chat again."""
    log = Log()
    old = SendBudget(SETTINGS)
    async with trio.open_nursery() as nursery:
        for chat in range(100, 126):
            nursery.start_soon(send, old, log, chat, PRIORITY_ANSWER)
        for _ in range(SETTINGS.tg_chat_burst):
            nursery.start_soon(partial(send, old, log, 7, PRIORITY_ANSWER, at=0.85))
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()  # kill -9: what was granted went out, the rest never will
    assert len(log.grants) == 26 + SETTINGS.tg_chat_burst
    new = SendBudget(SETTINGS)
    if resume:
        new.resume(Pauses())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send, new, log, 7, PRIORITY_ANSWER)
        for chat in range(200, 259):
            nursery.start_soon(partial(send, new, log, chat, PRIORITY_ANSWER, at=1.001))  # just after
    return log.grants


async def test_a_restart_does_not_send_on_top_of_the_last_seconds_sends(autojump_clock):
    grants = await restart_under_load(resume=True)
    replay_at_the_sandbox(grants)  # nothing refused, never more than 30 in a second
    after = sorted(g.at for g in grants)[26 + SETTINGS.tg_chat_burst :]
    assert after[0] == pytest.approx(2.0, abs=SLOT)  # a second's pause, then the full rate again
    assert after[-1] - after[0] < len(after) / RATE + 1.0


async def test_without_resuming_a_restart_would_overshoot(autojump_clock):
    """The same run, the budget not resumed: the check above is one that can fail."""
    grants = await restart_under_load(resume=False)
    with pytest.raises(AssertionError):
        replay_at_the_sandbox(grants)


async def test_a_flood_wait_is_recorded_from_every_sender_of_the_uploader(db, caplog, autojump_clock):
    """`uploader.main` records the pauses however they came (an outbox row or a broadcast copy),
    and says at start that an old one still runs."""
    from uploader.main import _resume_budget

    caplog.set_level(logging.WARNING, logger="uploader")
    budget = SendBudget(SETTINGS)
    _resume_budget(budget, db)
    budget.flood(1, 12.0, "global")  # recorded with the wall clock, which a test cannot jump
    again = SendBudget(SETTINGS)
    _resume_budget(again, db)
    assert again.pauses().everything == pytest.approx(12.0, abs=0.5)
    assert "a FloodWait from before the restart still runs: 12 s" in caplog.text
