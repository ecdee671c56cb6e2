"""kurigram's generated classes, loaded one by one (core/telegram/_mtproto_lazy.py): a bot process
loads a fraction of them, and every class, id and package it can reach is the one kurigram's own
eager import gives."""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest

from core.telegram import _mtproto_lazy

ROOT = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT = 120


def run_python(*args: str, stdin: str = "") -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_the_adapter_loads_a_fraction_of_the_raw_layer():
    result = run_python(
        "-c",
        "import json, sys; import core.telegram.mtproto; from core.telegram import _mtproto_lazy;"
        "from pyrogram.raw.all import objects;"
        "print(json.dumps({'lazy': _mtproto_lazy.installed(), 'loaded': sum(m.startswith('pyrogram.raw.')"
        " for m in sys.modules), 'ids': len(objects)}))",
    )
    assert result["lazy"] is True
    assert isinstance(result["loaded"], int) and isinstance(result["ids"], int)
    assert result["ids"] > 2000  # the whole table is known...
    assert result["loaded"] < result["ids"] / 5  # ...and a fraction of it imported (eagerly: all of it)


def test_every_id_and_name_resolves_to_kurigrams_own_class():
    """The lazy table and packages against kurigram's eager import, in two fresh interpreters: the
    same class for every constructor id, the same thing (class, sub-package or module) for every
    public name of every lazy package, and the same methods of kurigram's own types wrapped by
    its sync layer (for a type first looked up after pyrogram/sync.py ran, at that moment)."""
    eager = run_python("-m", "tests.telegram.raw_listing", "eager")
    assert eager["lazy"] is False
    assert isinstance(eager["names"], dict) and len(eager["names"]) > 6000  # ~3,000 classes and their modules
    assert isinstance(eager["wrapped"], dict) and sum(map(len, eager["wrapped"].values())) > 200
    lazy = run_python("-m", "tests.telegram.raw_listing", "lazy", stdin=json.dumps(list(eager["names"])))
    assert lazy["lazy"] is True
    assert lazy["ids"] == eager["ids"]
    assert lazy["names"] == eager["names"]
    assert lazy["wrapped"] == eager["wrapped"]


def test_a_class_not_loaded_yet_is_read_off_the_wire():
    from pyrogram import raw
    from pyrogram.raw.core import TLObject

    assert _mtproto_lazy.installed()  # this test process loads kurigram as the bot does
    sent = raw.types.InputMediaDice(emoticon="🎲")
    received = TLObject.read(BytesIO(sent.write()))
    assert type(received) is raw.types.InputMediaDice and received.emoticon == "🎲"
    assert raw.all.objects.get(0xDEADBEEF) is None
    with pytest.raises(KeyError):
        raw.all.objects[0xDEADBEEF]  # an unknown constructor fails as kurigram expects (KeyError)
    with pytest.raises(AttributeError):
        getattr(raw.types, "NoSuchType")  # noqa: B009


def test_a_package_of_another_shape_is_left_to_the_usual_import():
    generated = "from .res_pq import ResPQ\nfrom .chat import (Chat, ChatPhoto)\nfrom . import help, auth\n"
    generated += "__all__ = []\n"
    assert _mtproto_lazy._lazy_listing(generated) == (
        {"ResPQ": "res_pq", "Chat": "chat", "ChatPhoto": "chat"},
        ["help", "auth"],
    )
    for other in ("from .res_pq import *", "from .res_pq import ResPQ as R", "ResPQ.extra = 1", "import os"):
        assert _mtproto_lazy._lazy_listing(generated + other) is None, other
