"""The chaos soak: `run.py --workers 2 --sandbox` with Telegram's limits on, many users sending
links of every kind (`load.py`) while a chaos task kills, stops and faults the bot (`chaos.py`);
then the promises of `verdict.py`, printed and asserted.

The seed is printed; `SOAK_SEED=N` replays a run's plan and chaos. The bounded run is part of
`make test`; the full one (100 users, 400 links over a few minutes) runs with `--run-slow`.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from tests.soak import verdict
from tests.soak.chaos import Chaos, Settings
from tests.soak.load import Record, make_plan, run_users
from tests.support.bot import BotProcess

HTTP_TIMEOUT_S = 30.0
GIB = 1024**3
ENV = {
    "HEARTBEAT_TIMEOUT": "3",  # a stopped downloader loses its jobs quickly
    "HUNG_KILL_AFTER": "30",  # ...and is continued before the supervisor would kill it: a zombie
    "MAX_FILE_MB": "2",  # the `large` links are over it
    "SPOOL_MAX_GB": "0.05",  # a budget the chaos can fill
    "JOB_RETRY_DELAY": "1",
    "SHUTDOWN_GRACE": "10",
    "ADMIN_IDS": "4242",  # the crash alerts go somewhere: the admin's chat is checked too
    # What a killed downloader leaves in the spool is the sweeper's (core.sweeper): it runs within
    # the soak, not hourly, on leftovers older than seconds, not minutes.
    "SWEEP_INTERVAL": "5",
    "SWEEP_MIN_AGE_S": "10",
}
ADMIN = 4242


@dataclass(frozen=True)
class Size:
    users: int
    links: int
    spread_s: float  # the users begin within this
    kills: int
    chaos_gaps_s: tuple[float, float]


BOUNDED = Size(users=24, links=60, spread_s=40, kills=5, chaos_gaps_s=(1.0, 4.0))
FULL = Size(users=100, links=400, spread_s=150, kills=8, chaos_gaps_s=(6.0, 18.0))


def seed() -> int:
    chosen = int(os.environ.get("SOAK_SEED") or secrets.randbelow(2**31))
    print(f"\nsoak seed: {chosen} (replay: SOAK_SEED={chosen})", flush=True)
    return chosen


async def soak(folder: Path, size: Size) -> None:
    chosen = seed()
    bot = BotProcess(folder, env=ENV, workers=2)
    try:
        async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
            plans = make_plan(
                random.Random(chosen), bot.url, f"s{chosen}",
                users=size.users, links=size.links, spread_s=size.spread_s, first_user=300_000,
            )  # fmt: skip
            budget = int(float(ENV["SPOOL_MAX_GB"]) * GIB)
            chaos = Chaos(bot, http, chosen, Settings(2, float(ENV["HEARTBEAT_TIMEOUT"]), budget), kills=size.kills)
            print("chaos plan:", ", ".join(chaos.plan()), flush=True)
            record = Record()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(chaos.run, size.chaos_gaps_s)
                await run_users(http, bot, plans, record)
            print(f"links sent: {len(record.sent)} {dict(record.kinds())}; cancels pressed "
                  f"{record.cancels_pressed}, missed {record.cancels_missed}", flush=True)  # fmt: skip
            await verdict.quiet(bot, record)
            figures = verdict.Figures()
            seen = await verdict.chats(http, [p.user_id for p in plans])
            verdict.judge_answers(figures, bot, seen, chaos.kill_times())
            verdict.judge_leaks(figures, seen, bot.data_dir)
            verdict.judge_leaks(figures, await verdict.chats(http, [ADMIN]), bot.data_dir)  # all but paths
            stats = (await http.get("/sandbox/stats")).json()
            figures.floods = stats["flood_waits"]
            figures.forced_floods = stats["faults"]["forced_floods"]
            figures.held_floods = stats["faults"]["held_by_forced"]
            figures.spool_left = await verdict.spool_emptied(bot)
            figures.strays = verdict.strays(bot)
            print(f"jobs by kind: {verdict.by_kind(bot, record)}", flush=True)
        bot.stop()
        left = list(verdict.processes_of(bot.data_dir))
        checks = {name: verdict.integrity(bot.data_dir / name) for name in ("bot.sqlite3", "downloader.db")}
    finally:
        bot.stop()
    lines = [*figures.lines(), f"left after the stop: {left or 'nothing'}", f"integrity_check: {checks}"]
    print("\n".join(["soak figures:", *lines]), flush=True)
    broken = figures.broken()
    broken += [f"processes left after the stop: {left}"] if left else []
    broken += [f"{name}: integrity_check {got}" for name, got in checks.items() if got != "ok"]
    assert not broken, f"seed {chosen}:\n" + "\n".join(broken)
    assert len(chaos.done) and sum(w.startswith("SIGKILL") for _, w in chaos.done) >= size.kills


async def test_the_bounded_soak_keeps_every_promise(tmp_path):
    await soak(tmp_path, BOUNDED)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 400 links over a few minutes, then the barrier
async def test_the_full_soak_keeps_every_promise(tmp_path):
    await soak(tmp_path, FULL)
