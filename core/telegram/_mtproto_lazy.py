"""kurigram's generated classes loaded one by one, when first used, instead of all at import.

`import pyrogram` imports every one of Telegram's ~3,000 TL types and functions (pyrogram.raw:
about 25 MiB of a process) and kurigram's 320 own types (pyrogram.types: 4 MiB more), although a
bot uses a few hundred. Their packages' `__init__.py` only import names from their modules, and
`pyrogram.raw` then resolves its table of constructor ids (`raw.all.objects`, which
`TLObject.read` looks up) into classes.

Importing this module before the first `import pyrogram` (core.telegram.mtproto does) puts an
import hook in front of those packages. Each of `pyrogram.raw.types`, `.functions`, `.base`,
`pyrogram.types` and their sub-packages is made from the same imports, read (not run), but
imports a class's module when the class is first looked up (a module `__getattr__`, PEP 562);
the id table resolves an entry when `TLObject.read` first meets it; kurigram's sync layer, which
at import wraps the methods of every class `dir(pyrogram.types)` lists, gets a type looked up
later wrapped then. The classes, their modules and all that kurigram does with them are its own:
only the moment of their import changes. A package whose `__init__.py` is of another shape
(another kurigram) is imported as it is, eagerly: slower, never wrong.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

RAW = "pyrogram.raw"
TYPES = "pyrogram.types"  # kurigram's own types (Message, User, ...), made from the raw ones
SYNC = "pyrogram.sync"
LAZY_PACKAGES = (f"{RAW}.types", f"{RAW}.functions", f"{RAW}.base", TYPES)
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


def _lazy_listing(source: str) -> tuple[dict[str, str], list[str]] | None:
    """(name -> the sub-module it is imported from, sub-packages) if the package's __init__ only
    imports from its own modules (and names them in __all__), else None."""
    classes: dict[str, str] = {}
    packages: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and all(a.asname is None for a in node.names):
            if node.module is None:
                packages += [a.name for a in node.names]
            else:
                classes.update((a.name, node.module) for a in node.names if a.name != "*")
                if any(a.name == "*" for a in node.names):
                    return None
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
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
        if name == TYPES and isinstance(value, type):
            _wrap_for_sync(value)
        return value

    return __getattr__


def _wrap_for_sync(cls: type) -> None:
    """What pyrogram/sync.py does at import to every class `dir(pyrogram.types)` lists (only the
    loaded ones, here): wrap its public coroutine methods for use without an event loop. A class
    first looked up after that is wrapped now."""
    sync = sys.modules.get(SYNC)
    wrap = getattr(sync, "wrap", None)
    if wrap is not None and getattr(sync, "idle", None) is not None:  # sync.py ran to its end
        wrap(cls)


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
        # dir() lists what is loaded: pyrogram/sync.py walks dir(pyrogram.types) at import, and
        # listing every name would import every type (see _wrap_for_sync).
        vars(module).update(
            __getattr__=_package_getattr(module.__name__, classes, packages),
            __all__=[*classes, *packages],
            __dir__=lambda: sorted(vars(module)),
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
            source = f.read()
        if fullname == RAW:
            if tuple(_code_lines(source)) != _RAW_INIT:
                return None
            spec.loader = _LazyLoader(None)
            return spec
        listing = _lazy_listing(source)
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
