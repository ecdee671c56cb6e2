"""Rules for every test here: localhost only, port 0 or ipc:// paths under tmp_path, every wait
with a deadline that says what it saw, every process and server stopped even when a test fails.
A process under test binds port 0 and says which port it got (tests/support/ports.py). A test
that says something did not happen waits at a barrier first (tests/support/journey.py), never
for a fixed time. No test leans on another: `make test` runs them in a random order.

Long soaks and big files are marked `slow` and run only with `--run-slow`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import core.telegram._mtproto_lazy  # noqa: F401 (kurigram's raw layer loaded as the bot loads it, lazily)
from tests.support import bot as bot_process


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def shared_sample_media(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every sandbox the suite starts (alone or under run.py) shares one folder of sample media:
    ffmpeg makes them once (about ten seconds) instead of once per bot. And every bot shares one
    table of yt-dlp's extractors: the first bot's gateway builds it, the others read it."""
    os.environ.setdefault("SANDBOX_MEDIA_DIR", str(tmp_path_factory.mktemp("sample-media") / "media"))
    bot_process.shared_run_files = tmp_path_factory.mktemp("extractor-tables")


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole run: no log any test wrote holds a secret the tests gave the bot."""
    yield
    from tests.support.logs import leaks

    found = leaks(tmp_path_factory.getbasetemp())
    assert not found, "secrets in logs:\n" + "\n".join(found)
