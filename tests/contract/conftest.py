"""The contract suite: every test runs once per adapter, ids `[mtproto]` and `[botapi]`.

Rules: localhost only, port 0, everything under tmp_path; every wait has a deadline
(`trio.fail_after`) and says what it saw when it runs out; each env stops what it started even
when the test fails. Tests act as users and look at what users see only through `env.world`
(tests/contract/world.py) and talk to Telegram only through `env.make_port()`.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from core.telegram.port import TelegramPort
from tests.contract.world import World

BACKENDS = ("mtproto", "botapi")
FFMPEG_TIMEOUT = 60  # seconds to render the sample clip


class Env(Protocol):
    world: World

    def make_port(self) -> TelegramPort: ...


@pytest.fixture(params=BACKENDS)
def env_factory(request: pytest.FixtureRequest) -> Callable[[Path], AbstractAsyncContextManager[Env]]:
    """`botapi_env` or `mtproto_env`, imported only when its tests run (so pyrogram and
    trio-asyncio are loaded only for the [mtproto] cases)."""
    backend = request.param
    module = importlib.import_module(f"tests.contract.{backend}_env")
    factory: Callable[[Path], AbstractAsyncContextManager[Env]] = getattr(module, f"{backend}_env")
    return factory


@pytest.fixture
async def env(env_factory: Callable[[Path], AbstractAsyncContextManager[Env]], tmp_path: Path) -> AsyncIterator[Env]:
    async with env_factory(tmp_path) as entered:
        yield entered


@dataclass(frozen=True)
class Clip:
    video: Path
    thumbnail: Path
    duration: int
    width: int
    height: int


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """A real 2 s H.264/AAC clip and a JPEG thumbnail of it, rendered by ffmpeg once per run."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg is missing: install Debian's ffmpeg (apt-get install ffmpeg)")
    folder = tmp_path_factory.mktemp("clip")
    video, thumb = folder / "clip.mp4", folder / "thumb.jpg"
    common = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [
            *common,
            *("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=2"),
            *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)),
        ],
        check=True,
        timeout=FFMPEG_TIMEOUT,
    )
    subprocess.run(
        [*common, "-i", str(video), "-frames:v", "1", "-vf", "scale=160:-2", str(thumb)],
        check=True,
        timeout=FFMPEG_TIMEOUT,
    )
    return Clip(video=video, thumbnail=thumb, duration=2, width=320, height=240)
