"""Run as `python -m tests.telegram.raw_listing eager|lazy`: what kurigram's generated packages
hold, as JSON on stdout, for tests/telegram/test_mtproto_lazy.py.

eager: kurigram imported as it is; every constructor id's class, every public name of every
package core.telegram._mtproto_lazy makes lazy (pyrogram.raw.types, .functions, .base,
pyrogram.types and their sub-packages: classes, sub-packages and modules) with what it is, and
the methods kurigram's sync layer wrapped on each of pyrogram.types' classes.
lazy: kurigram imported the bot's way; reads the eager listing's names on stdin, looks each one
up, then lists the same.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from types import ModuleType
from typing import Any

PACKAGES = ("pyrogram.raw.types", "pyrogram.raw.functions", "pyrogram.raw.base", "pyrogram.types")


def describe(value: Any) -> str:
    if isinstance(value, ModuleType):
        return "module " + value.__name__
    return f"{type(value).__name__} {value.__module__}.{value.__qualname__}"


def own_module(value: Any, package: str) -> bool:
    return isinstance(value, ModuleType) and value.__name__.startswith(package)


def packages() -> list[str]:
    found = list(PACKAGES)
    for p in PACKAGES:
        found += [m.name for m in pkgutil.walk_packages(importlib.import_module(p).__path__, p + ".") if m.ispkg]
    return found


def sync_wrapped(types: ModuleType, names: list[str]) -> dict[str, list[str]]:
    """For each class pyrogram.types names: its methods wrapped by pyrogram/sync.py."""
    classes = {name: getattr(types, name) for name in names}
    return {
        name: sorted(attr for attr in dir(cls) if hasattr(getattr(cls, attr), "__wrapped__"))
        for name, cls in classes.items()
        if isinstance(cls, type)
    }


def main() -> None:
    mode = sys.argv[1]
    if mode == "lazy":
        import core.telegram._mtproto_lazy  # noqa: F401
    import pyrogram
    from pyrogram import raw

    from core.telegram import _mtproto_lazy

    ids = {str(k): describe(raw.all.objects[k]) for k in list(raw.all.objects)}
    if mode == "eager":
        names = {
            f"{p}.{n}": describe(v)
            for p in packages()
            for n, v in vars(importlib.import_module(p)).items()
            if not n.startswith("_") and (isinstance(v, type) or own_module(v, p))
        }
    else:
        wanted = json.load(sys.stdin)
        names = {}
        for qualified in wanted:
            package, _, name = qualified.rpartition(".")
            names[qualified] = describe(getattr(importlib.import_module(package), name))
    top = [q.rpartition(".")[2] for q in names if q.rpartition(".")[0] == "pyrogram.types"]
    wrapped = sync_wrapped(pyrogram.types, top)
    print(json.dumps({"lazy": _mtproto_lazy.installed(), "ids": ids, "names": names, "wrapped": wrapped}))


if __name__ == "__main__":
    main()
