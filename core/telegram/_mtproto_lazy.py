"""kurigram's raw TL layer loaded class by class, when first used, instead of all at import.

`import pyrogram` imports every one of Telegram's ~3,000 TL types and functions (pyrogram.raw:
about 25 MiB of a process) although a bot uses a few hundred. Their packages' `__init__.py` are
generated lists of `from .module import Name` lines, and `pyrogram.raw` then resolves its table
of constructor ids (`raw.all.objects`, which `TLObject.read` looks up) into classes.

Importing this module before the first `import pyrogram` (core.telegram.mtproto does) puts an
import hook in front of those packages. Each of `pyrogram.raw.types`, `.functions`, `.base` and
their sub-packages is made from the same lines, read as text, but imports a class's module when
the class is first looked up (a module `__getattr__`, PEP 562); the id table resolves an entry
when `TLObject.read` first meets it. The classes, their modules and all that kurigram does with
them are its own: only the moment of their import changes. A package whose `__init__.py` is not
of that generated shape (another kurigram) is imported as it is, eagerly: slower, never wrong.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

RAW = "pyrogram.raw"
LAZY_PACKAGES = (f"{RAW}.types", f"{RAW}.functions", f"{RAW}.base")
_CLASS_LINE = re.compile(r"from \.([a-z0-9_]+) import ([A-Za-z0-9_]+)")
_PACKAGES_LINE = re.compile(r"from \. import ([a-z0-9_]+(?:, [a-z0-9_]+)*)")
# pyrogram/raw/__init__.py as kurigram generates it, without comments and blank lines.
_RAW_INIT = (
    "from importlib import import_module",
    "from . import types, functions, base, core",
    "from .all import objects",
    '__all__ = ["types", "functions", "base", "core"]',
    "for k, v in objects.items():",
    '    path, name = v.rsplit(".", 1)',
    "    objects[k] = getattr(import_module(path), name)",
)


class LazyObjects(dict[int, Any]):
    """`raw.all.objects`, constructor id -> class, with each class imported on first lookup."""

    def __getitem__(self, key: int) -> Any:
        value = super().__getitem__(key)
        if isinstance(value, str):
            path, name = value.rsplit(".", 1)
            value = getattr(importlib.import_module(path), name)
            super().__setitem__(key, value)
        return value

    def get(self, key: int, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (dict.get would skip the import)


def _code_lines(source: str) -> list[str]:
    return [line.rstrip() for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _lazy_listing(lines: list[str]) -> tuple[dict[str, str], list[str]] | None:
    """(class name -> its module, sub-packages) if every line is a generated import, else None."""
    classes: dict[str, str] = {}
    packages: list[str] = []
    for line in lines:
        if match := _CLASS_LINE.fullmatch(line):
            classes[match[2]] = match[1]
        elif match := _PACKAGES_LINE.fullmatch(line):
            packages += match[1].split(", ")
        else:
            return None
    return classes, packages


def _package_getattr(name: str, classes: dict[str, str], packages: list[str]) -> Callable[[str], Any]:
    modules = frozenset(packages) | frozenset(classes.values())  # as the eager import binds them too

    def __getattr__(attr: str) -> Any:
        if attr in classes:
            value = getattr(importlib.import_module(f"{name}.{classes[attr]}"), attr)
        elif attr in modules:
            value = importlib.import_module(f"{name}.{attr}")
        else:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        setattr(sys.modules[name], attr, value)
        return value

    return __getattr__


class _LazyLoader(importlib.abc.Loader):
    def __init__(self, listing: tuple[dict[str, str], list[str]] | None) -> None:
        self.listing = listing  # None for pyrogram.raw itself

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        if self.listing is None:
            _exec_raw(module)
            return
        classes, packages = self.listing
        names = [*classes, *packages]
        vars(module).update(
            __getattr__=_package_getattr(module.__name__, classes, packages),
            __all__=names,
            __dir__=lambda: sorted({*vars(module), *names, *classes.values()}),
        )


def _exec_raw(module: ModuleType) -> None:
    """pyrogram/raw/__init__.py, with the id table resolved lazily: replaced before `raw.core`
    (whose TLObject.read holds it) is first imported."""
    table = importlib.import_module(f"{RAW}.all")
    objects = LazyObjects(table.objects)
    setattr(table, "objects", objects)  # noqa: B010 (a module's attribute, unknown to mypy)
    names = ["types", "functions", "base", "core"]
    vars(module).update({name: importlib.import_module(f"{RAW}.{name}") for name in names})
    vars(module).update(objects=objects, __all__=names)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != RAW and not fullname.startswith(LAZY_PACKAGES):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations or not spec.origin:
            return None  # one class's module, or not there: the usual import
        with open(spec.origin, encoding="utf-8") as f:
            lines = _code_lines(f.read())
        if fullname == RAW:
            if tuple(lines) != _RAW_INIT:
                return None
            spec.loader = _LazyLoader(None)
            return spec
        listing = _lazy_listing(lines)
        if listing is None:
            return None
        spec.loader = _LazyLoader(listing)
        return spec


def install() -> None:
    """Load pyrogram.raw lazily from now on; no effect once pyrogram.raw is imported."""
    if RAW in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


def installed() -> bool:
    """Whether pyrogram.raw is (being) loaded lazily."""
    raw = sys.modules.get(RAW)
    return raw is not None and isinstance(getattr(raw, "objects", None), LazyObjects)


install()
