"""Rules for every test here: localhost only, port 0 or ipc:// paths under tmp_path, every wait
with a deadline that says what it saw, every process and server stopped even when a test fails.

Long soaks and big files are marked `slow` and run only with `--run-slow`.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
