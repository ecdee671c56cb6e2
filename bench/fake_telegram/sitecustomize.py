"""For benchmarks of the bot on mtproto: its kurigram clients talk to a fake Telegram, not Telegram.

A benchmark puts this folder (and the project root) on PYTHONPATH and sets FAKE_MTPROTO=1; every
Python process it starts then runs this file at start-up (Python's `sitecustomize` hook). Nothing
is imported here until a process imports `core.telegram.mtproto` (the gateway and the uploader):
then each `MtprotoAdapter` made without a client factory gets the contract suite's, whose kurigram
`Client` is the real one cut at the RPC boundary (tests/contract/fake_mtproto_client.py). Each
process has its own fake Telegram, in its own memory, so its figures include the fake's share
(see bench/bench_idle_rss.py). No connection is ever dialled.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET = "core.telegram.mtproto"
SWITCH = "FAKE_MTPROTO"


def load_fake() -> Any:
    """The fake Telegram's class. It needs `sandbox.entities` only: the sandbox package is given
    without its __init__, which would import the sandbox's web server (10 MB) for nothing."""
    if "sandbox" not in sys.modules:
        package = ModuleType("sandbox")
        package.__path__ = [str(Path(__file__).resolve().parents[2] / "sandbox")]
        sys.modules["sandbox"] = package
    from tests.contract.fake_mtproto import FakeTelegram

    return FakeTelegram


def _fake_adapters(module: ModuleType) -> None:
    fake = load_fake()(os.environ["BOT_TOKEN"])
    adapter = module.MtprotoAdapter
    real_init = adapter.__init__

    def __init__(self: Any, settings: Any, *, role: str, client_factory: Any = None) -> None:
        real_init(self, settings, role=role, client_factory=client_factory or fake.client_factory)

    adapter.__init__ = __init__


class _Loader(importlib.abc.Loader):
    def __init__(self, real: Any) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        result: ModuleType | None = self.real.create_module(spec)
        return result

    def exec_module(self, module: ModuleType) -> None:
        self.real.exec_module(module)
        _fake_adapters(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if os.environ.get(SWITCH) == "1":
    sys.meta_path.insert(0, _Finder())
