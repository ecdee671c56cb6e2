"""Fixtures of the gateway's tests: `make` builds gateways (`gatekit.World`) in the test's own
folder, each with its settings, and closes them after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.gateway.gatekit import World


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def build(**env: str) -> World:
        world = World(tmp_path / str(len(worlds)), **env)
        worlds.append(world)
        return world

    try:
        yield build
    finally:
        for world in worlds:
            world.close()
