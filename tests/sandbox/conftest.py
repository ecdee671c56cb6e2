"""Fixtures of the sandbox tests.

Rules: localhost only, port 0, data under tmp_path; the in-process sandbox runs in the test's
nursery (pytest-trio cancels it at the end); subprocesses are stopped in `finally`. Sample media
are made once per session and shared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from sandbox.media import ensure_media
from sandbox.server import serve
from tests.sandbox.support import Api
from tests.support.sandbox import SandboxProcess

HTTP_TIMEOUT_S = 30.0


@pytest.fixture(scope="session")
def sample_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sandbox-media") / "media"
    ensure_media(folder)
    return folder


@pytest.fixture
async def sandbox_url(tmp_path: Path, sample_media: Path, nursery: trio.Nursery) -> str:
    url: str = await nursery.start(partial(serve, 0, tmp_path, media_dir=sample_media))
    return url


@pytest.fixture
async def http(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


@pytest.fixture
async def api(http: httpx.AsyncClient) -> Api:
    return Api(http)


@pytest.fixture
def sandbox_process(tmp_path: Path, sample_media: Path) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path, sample_media)
    try:
        yield process
    finally:
        process.stop()
