"""One running sandbox: its world, limits, faults, files and counters, shared by every route."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from sandbox.errors import flood_wait
from sandbox.files import FileStore
from sandbox.limits import SendLimiter
from sandbox.live_config import LiveConfig
from sandbox.model import Chat, Message
from sandbox.stats import Stats
from sandbox.world import World


@dataclass
class Sandbox:
    config: LiveConfig
    initial: LiveConfig  # what POST /sandbox/reset goes back to
    files: FileStore
    media_dir: Path
    world: World = field(default_factory=World)
    stats: Stats = field(default_factory=Stats)
    rng: random.Random = field(default_factory=random.Random)
    flaky: Counter[str] = field(default_factory=Counter)  # /media/flaky requests per key
    stalls: Counter[str] = field(default_factory=Counter)  # /media/stall requests per key
    limiter: SendLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = SendLimiter(self.config)

    def admit_send(self, chat: Chat, count: int = 1) -> None:
        """Count a send or edit to `chat` (`count` messages for an album), or refuse it with 429."""
        refusal = self.limiter.admit(chat.id, chat.type == "private", trio.current_time(), count)
        if refusal is None:
            self.stats.sends += count
            return
        self.stats.flood_waits += 1
        if refusal.forced:
            self.stats.faults["forced_floods"] += 1
        if refusal.held:
            self.stats.faults["held_by_forced"] += 1
        raise flood_wait(refusal.retry_after)

    def post(self, chat: Chat, **fields: Any) -> Message:
        """A message from the bot in `chat` (after `admit_send`), counted in sends_per_chat."""
        msg = self.world.bot_message(chat, **fields)
        self.stats.sends_per_chat[chat.id] += 1
        return msg

    def config_changed(self) -> None:
        self.limiter.config_changed()

    def reset(self) -> None:
        """Back to an empty world with the start configuration; update ids keep counting."""
        self.world.reset()
        self.files.clear()
        self.stats = Stats()
        self.flaky.clear()
        self.stalls.clear()
        self.config.apply(self.initial.to_json())
        self.limiter.reset()
