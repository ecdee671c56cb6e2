"""Graceful stop: mid-load, SIGTERM to the supervisor. It exits 0 within SHUTDOWN_GRACE, with no
child killed for being late and no process of its own left; started again on the same data, it
completes every job accepted before the stop, each with exactly one file, none twice.

Telegram (the sandbox) runs apart and lives on across the stop, as it would: the users' chats,
and the messages they send while the bot is down, are still there when it comes back.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from core.jobstates import JobState
from tests.soak import verdict
from tests.soak.load import Link, Record, UserPlan, run_users
from tests.support.bot import BotProcess
from tests.support.poll import until
from tests.support.sandbox import SandboxProcess

HERE = Path(__file__).resolve().parent
GRACE_S = 10.0
ENV = {"SHUTDOWN_GRACE": str(GRACE_S), "HEARTBEAT_TIMEOUT": "3"}
USERS, LINKS_EACH = 10, 4
MID_LOAD_JOBS = 12  # jobs made before the stop
STOP_TIMEOUT_S = 60.0


@pytest.fixture
def telegram(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(tmp_path / "telegram")
    try:
        yield sandbox
    finally:
        sandbox.stop()


def start(folder: Path, telegram: SandboxProcess) -> BotProcess:
    port = telegram.url.rsplit(":", 1)[1]
    return BotProcess(
        folder, "--sandbox", "--sandbox-port", port,
        env=ENV, workers=2, telegram_url=telegram.url, script=HERE / "run_apart.py",
    )  # fmt: skip


def plans(base: str, tag: str) -> list[UserPlan]:
    """Each user: slow files (a few seconds each: in flight at the stop) and quick ones."""
    rng = random.Random(tag)
    out = []
    for i in range(USERS):
        links = [
            Link("file", f"{base}/media/slow?size=300000&rate=100000&t={tag}-{i}-{n}")
            if n % 2 == 0
            else Link("file", f"{base}/media/blob?size={rng.randint(40_000, 200_000)}&t={tag}-{i}-{n}")
            for n in range(LINKS_EACH)
        ]
        out.append(UserPlan(400_000 + i, "en" if i % 3 else "fa", rng.uniform(0, 4), links, [1.5] * len(links)))
    return out


async def test_sigterm_mid_load_exits_in_grace_and_a_restart_completes_every_job_once(tmp_path, telegram):
    folder = tmp_path / "bot"
    folder.mkdir()
    bot = start(folder, telegram)
    record = Record()
    try:
        async with httpx.AsyncClient(base_url=telegram.url, timeout=30) as http:
            users = plans(telegram.url, f"g{os.getpid()}")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_users, http, bot, users, record)
                await until("jobs in flight", lambda: len(bot.query("SELECT id FROM jobs")) >= MID_LOAD_JOBS, 90)
                running = bot.query("SELECT count(*) FROM jobs WHERE state = ?", JobState.DOWNLOADING)[0][0]
                began = time.monotonic()
                os.kill(bot.proc.pid, signal.SIGTERM)
                code = await trio.to_thread.run_sync(bot.proc.wait, STOP_TIMEOUT_S)
                took = time.monotonic() - began
                print(f"\nSIGTERM with {running} download(s) running: exit {code} after {took:.1f} s", flush=True)
                assert code == 0, bot.log()
                assert took <= GRACE_S, f"the supervisor took {took:.1f} s, over SHUTDOWN_GRACE {GRACE_S}"
                late = [line for line in bot.log_lines() if "did not stop within" in line]
                assert not late, late
                left = list(verdict.processes_of(bot.data_dir))
                assert not left, f"processes of the bot left after its exit: {left}"
                accepted = {r[0] for r in bot.query("SELECT id FROM jobs WHERE parent_id IS NULL")}
                bot.stop()
                (folder / "bot.log").rename(folder / "bot-before-stop.log")
                bot = start(folder, telegram)  # the same data folder; Telegram kept the chats
            await verdict.quiet(bot, record)
            figures = verdict.Figures()
            seen = await verdict.chats(http, [p.user_id for p in users])
            verdict.judge_answers(figures, bot, seen, kills=[])
            print("\n".join(figures.lines()), flush=True)
            states = dict(bot.query("SELECT id, state FROM jobs WHERE parent_id IS NULL"))
            assert {i: states[i] for i in accepted if states[i] != JobState.DONE} == {}
            assert not figures.wrong, figures.wrong
            assert not figures.twice, figures.twice
    finally:
        bot.stop()
    assert verdict.integrity(bot.data_dir / "bot.sqlite3") == "ok"
