"""The mtproto side of the contract suite: kurigram's real client against the fake Telegram.

`mtproto_env(tmp_path)` builds a `FakeTelegram` (tests/contract/fake_mtproto.py) and settings
whose DATA_DIR is under tmp_path, and yields an `MtprotoEnv`: `world` is the fake acting as
users, `make_port()` a new `MtprotoAdapter` (not yet entered) on the same fake and session
folder, so that a second port is the same bot restarting.

Before yielding, the env starts and stops the gateway once: the bot was deployed (its session
logged in and its place in the update stream recorded) before users write to it, as in
production. Without that, a brand-new session starts reading Telegram's update stream from
"now" and messages written before its first start are not its to fetch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.config import Secret, Settings
from core.telegram.mtproto import MtprotoAdapter
from tests.contract.fake_mtproto import FakeTelegram

TOKEN = "424242:contract-suite-token"
API_ID = 4242
API_HASH = "0123456789abcdef0123456789abcdef"
PART_DELAY = 0.002  # seconds per upload part: uploads take a little while, as over a network


@dataclass
class MtprotoEnv:
    world: FakeTelegram
    settings: Settings

    def make_port(self, role: str = "gateway", **overrides: Any) -> MtprotoAdapter:
        settings = replace(self.settings, **overrides) if overrides else self.settings
        return MtprotoAdapter(settings, role=role, client_factory=self.world.client_factory)


@asynccontextmanager
async def mtproto_env(tmp_path: Path, *, part_delay: float = PART_DELAY) -> AsyncIterator[MtprotoEnv]:
    settings = Settings(
        bot_token=Secret(TOKEN),
        api_id=API_ID,
        api_hash=Secret(API_HASH),
        data_dir=tmp_path / "data",
    )
    env = MtprotoEnv(FakeTelegram(TOKEN, part_delay=part_delay), settings)
    async with env.make_port():
        pass  # deployed: logged in once, stream position recorded
    yield env
