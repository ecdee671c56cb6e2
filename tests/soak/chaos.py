"""The soak's chaos: at random moments drawn from a printed seed, kill -9 a downloader, the
uploader and the gateway; SIGSTOP a downloader for longer than HEARTBEAT_TIMEOUT; make the sandbox
answer 5xx, drop connections and force a FloodWait; fill the spool's budget once.

The same seed draws the same actions in the same order with the same gaps (the moments they land
on in the bot's life still depend on the machine's speed). Every action is undone on the way out
(faults off, the stopped process continued, the spool's filler removed), also when the test fails.
"""

from __future__ import annotations

import os
import random
import signal
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.support.bot import BotProcess
from tests.support.poll import until

KILLED_KINDS = ("downloader", "uploader", "gateway")
AGAIN_KINDS = ("downloader", "gateway")  # killed more than once
RESTART_TIMEOUT_S = 90.0
FAULT_WINDOW_S = (3.0, 6.0)  # how long a window of injected faults lasts
FILL_WINDOW_S = (4.0, 7.0)  # how long the spool stays full
FAULTS_OFF = {"fail_rate": 0.0, "drop_rate": 0.0, "flood_next": 0, "flood_every": 0}
FLOOD_RETRY_AFTER_S = 3
CHAOS_USER = 299_999
FILLER = "soak-filler"  # a sparse file of the budget's size in the spool (no disk is written)


@dataclass(frozen=True)
class Settings:
    """The bot's settings the chaos needs to know."""

    downloaders: int
    heartbeat_timeout: float
    spool_budget_bytes: int


@dataclass
class Chaos:
    bot: BotProcess
    http: httpx.AsyncClient
    seed: int
    settings: Settings
    kills: int = 5
    done: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), what) of every action
    forced_floods: int = 0
    _stopped: int | None = None
    _filler: Path | None = None

    def plan(self) -> list[str]:
        """The actions in the order they run: every kind killed, the uploader once (each of its
        deaths during uploads sends up to UPLOAD_CONCURRENCY files twice: Telegram had them
        whole, the dead uploader never heard), the other kills among the downloaders and the
        gateway."""
        rng = random.Random(self.seed)
        kills = [f"kill {k}" for k in KILLED_KINDS]
        kills += [f"kill {rng.choice(AGAIN_KINDS)}" for _ in range(max(0, self.kills - len(kills)))]
        actions = [*kills, "stop downloader", "fault 5xx", "fault drop", "fault flood", "fill spool"]
        rng.shuffle(actions)
        return actions

    def kill_times(self) -> list[float]:
        """When a process was killed, or stopped (time.time())."""
        return [at for at, what in self.done if what.startswith(("SIGKILL", "SIGSTOP"))]

    async def run(self, gaps_s: tuple[float, float]) -> None:
        """Each action after a gap drawn from `gaps_s`; everything undone at the end."""
        rng = random.Random(self.seed + 1)
        try:
            for action in self.plan():
                await trio.sleep(rng.uniform(*gaps_s))  # the chaos's pace: a random moment
                verb, what = action.split(" ", 1)
                await getattr(self, f"_{verb}")(what, rng)
        finally:
            with trio.CancelScope(shield=True):
                await self.undo()

    def _note(self, what: str) -> None:
        self.done.append((time.time(), what))
        print(f"chaos {time.strftime('%H:%M:%S')}: {what}", flush=True)

    # ---- processes -------------------------------------------------------------------------------

    def _downloader(self, rng: random.Random) -> str:
        return f"downloader-{rng.randint(1, self.settings.downloaders)}"

    async def _kill(self, kind: str, rng: random.Random) -> None:
        name = self._downloader(rng) if kind == "downloader" else kind
        old = self.bot.kill(name)
        self._note(f"SIGKILL {name} (pid {old})")
        await self._restarted(name, old)

    async def _restarted(self, name: str, old_pid: int) -> None:
        def back() -> bool:
            p = self.bot.processes().get(name)
            return bool(p and p["pid"] != old_pid and p["state"] == "ready")

        await until(f"{name} restarted", back, RESTART_TIMEOUT_S, describe=self.bot.log)

    async def _stop(self, what: str, rng: random.Random) -> None:
        name = self._downloader(rng)
        pid = int(self.bot.processes()[name]["pid"])
        os.kill(pid, signal.SIGSTOP)
        self._stopped = pid
        held = self.settings.heartbeat_timeout * 2 + 1
        self._note(f"SIGSTOP {name} (pid {pid}) for {held:g} s")
        await trio.sleep(held)  # the fault's length: longer than HEARTBEAT_TIMEOUT, on purpose
        self._continue()

    def _continue(self) -> None:
        if self._stopped is not None:
            with suppress(ProcessLookupError):
                os.kill(self._stopped, signal.SIGCONT)
            self._note(f"SIGCONT pid {self._stopped}")
            self._stopped = None

    # ---- the sandbox's faults ------------------------------------------------------------------------

    async def _faults(self, faults: dict[str, Any]) -> None:
        response = await self.http.post("/sandbox/config", json={"faults": faults})
        assert response.status_code == 200, response.text

    async def _poke(self) -> None:
        """A user of the chaos's own says /start: the bot answers it (a send)."""
        response = await self.http.post(
            f"/sandbox/users/{CHAOS_USER}/messages", json={"text": "/start", "first_name": "Chaos"}
        )
        assert response.status_code == 200, response.text

    async def _forced_so_far(self) -> int:
        return int((await self.http.get("/sandbox/stats")).json()["faults"]["forced_floods"])

    async def _fault(self, kind: str, rng: random.Random) -> None:
        if kind == "flood":
            before = await self._forced_so_far()
            await self._faults({"flood_next": 1, "flood_retry_after": FLOOD_RETRY_AFTER_S})
            self._note(f"a forced FloodWait (the next send: 429, retry after {FLOOD_RETRY_AFTER_S} s)")

            async def given() -> bool:
                return await self._forced_so_far() > before

            await self._poke()  # a send of our own, should the load be quiet now
            await until("the forced FloodWait given", given, RESTART_TIMEOUT_S)  # at the next send
            self.forced_floods += 1
            return
        faults = {"5xx": {"fail_rate": 0.3, "fail_status": 502}, "drop": {"drop_rate": 0.2}}[kind]
        window = rng.uniform(*FAULT_WINDOW_S)
        await self._faults(faults)
        self._note(f"fault {kind} {faults} for {window:.1f} s")
        await trio.sleep(window)  # the fault's length
        await self._faults(FAULTS_OFF)
        self._note(f"fault {kind} off")

    # ---- the spool ---------------------------------------------------------------------------------

    async def _fill(self, what: str, rng: random.Random) -> None:
        spool = self.bot.data_dir / "spool"
        spool.mkdir(parents=True, exist_ok=True)
        self._filler = spool / FILLER
        with self._filler.open("wb") as f:
            f.truncate(self.settings.spool_budget_bytes)
        window = rng.uniform(*FILL_WINDOW_S)
        self._note(f"spool filled to its budget ({self.settings.spool_budget_bytes} bytes) for {window:.1f} s")
        await trio.sleep(window)  # the fault's length
        self._empty()

    def _empty(self) -> None:
        if self._filler is not None:
            self._filler.unlink(missing_ok=True)
            self._filler = None
            self._note("spool filler removed")

    async def undo(self) -> None:
        self._continue()
        self._empty()
        with suppress(httpx.HTTPError, AssertionError):
            await self._faults({**FAULTS_OFF, "latency_ms": 0})
