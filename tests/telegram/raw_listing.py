"""Run as `python -m tests.telegram.raw_listing eager|lazy`: what kurigram's raw layer holds, as
JSON on stdout, for tests/telegram/test_mtproto_lazy.py.

eager: kurigram imported as it is; every constructor id's class, and every public name of every
raw package (classes, sub-packages and modules) with what it is.
lazy: kurigram imported the bot's way (core.telegram._mtproto_lazy); reads the eager listing's
names on stdin and looks each one up.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from types import ModuleType
from typing import Any

PACKAGES = ("types", "functions", "base")


def describe(value: Any) -> str:
    if isinstance(value, ModuleType):
        return "module " + value.__name__
    return f"{type(value).__name__} {value.__module__}.{value.__qualname__}"


def own_module(value: Any, package: str) -> bool:
    return isinstance(value, ModuleType) and value.__name__.startswith(package)


def packages(raw: ModuleType) -> list[str]:
    found = [f"pyrogram.raw.{p}" for p in PACKAGES]
    for p in PACKAGES:
        prefix = f"pyrogram.raw.{p}."
        found += [m.name for m in pkgutil.walk_packages(getattr(raw, p).__path__, prefix) if m.ispkg]
    return found


def main() -> None:
    mode = sys.argv[1]
    if mode == "lazy":
        import core.telegram._mtproto_lazy  # noqa: F401
    from pyrogram import raw

    from core.telegram import _mtproto_lazy

    ids = {str(k): describe(raw.all.objects[k]) for k in list(raw.all.objects)}
    if mode == "eager":
        names = {
            f"{p}.{n}": describe(v)
            for p in packages(raw)
            for n, v in vars(importlib.import_module(p)).items()
            if not n.startswith("_") and (isinstance(v, type) or own_module(v, p))
        }
    else:
        wanted = json.load(sys.stdin)
        names = {}
        for qualified in wanted:
            package, _, name = qualified.rpartition(".")
            names[qualified] = describe(getattr(importlib.import_module(package), name))
    print(json.dumps({"lazy": _mtproto_lazy.installed(), "ids": ids, "names": names}))


if __name__ == "__main__":
    main()
