"""Every text in fa and en, with the same keys and placeholders; a missing key is an error; every
key the code asks for is there, and none is built at run time from a string a test cannot see;
numbers, sizes, durations and dates written for the language (Persian digits in fa)."""

from __future__ import annotations

import ast
import datetime
import string
from pathlib import Path

import pytest

from core.texts import LANGUAGES, date, digits, duration, language_for, number, size, text

ROOT = Path(__file__).resolve().parents[2]
CODE = ("core", "gateway", "downloader", "uploader", "monitor", "run.py")
PERSIAN_DIGITS = set("۰۱۲۳۴۵۶۷۸۹")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_language_has_the_same_keys_and_placeholders():
    reference = LANGUAGES["fa"]
    for lang, table in LANGUAGES.items():
        assert set(table) == set(reference), (lang, set(table) ^ set(reference))
        for key, template in table.items():
            assert placeholders(template) == placeholders(reference[key]), (lang, key)
            assert template.strip(), (lang, key)


def test_a_missing_key_or_language_is_an_error_not_a_fallback():
    with pytest.raises(KeyError, match="no_such_key"):
        text("en", "no_such_key")
    with pytest.raises(KeyError, match="'de'"):
        text("de", "welcome", name="x")


def test_the_telegram_language_picks_the_default():
    assert language_for("en-US") == "en" and language_for("fa") == "fa"
    assert language_for("de", default="en") == "en" and language_for(None) == "fa"


def _key_arguments(tree: ast.AST) -> list[ast.expr]:
    """The key argument of every call that looks a text up: text(lang, KEY), req.t(KEY),
    alert(db, settings, kind, KEY), self.alert(kind, KEY), and text_key=KEY."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "text_key":
            found.append(node.value)
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        position = {"text": 1, "t": 0, "user_text": None}.get(name)
        if name == "alert":
            position = 3 if len(node.args) >= 4 else 1 if len(node.args) >= 2 else None
        if position is not None and len(node.args) > position:
            found.append(node.args[position])
    return found


def _built(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod))


def _sources() -> list[Path]:
    paths = [ROOT / p for p in CODE]
    return sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py")))


def test_every_key_the_code_asks_for_exists_and_none_is_built_at_run_time():
    missing, built = [], []
    for path in _sources():
        for arg in _key_arguments(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{arg.lineno}"
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in LANGUAGES["en"]:
                missing.append(f"{where} {arg.value}")
            elif any(_built(node) for node in ast.walk(arg)):
                built.append(where)
    assert missing == [], missing
    assert built == [], f"keys built at run time (use a table of keys instead): {built}"


def test_numbers_sizes_durations_and_dates_per_language():
    assert number("en", 1234.56) == "1,234.6" and number("fa", 1234.56) == "۱٬۲۳۴٫۶"
    assert text("fa", "error_too_large", limit=2000).count("۲۰۰۰") == 1  # whole numbers are often ids: not grouped
    line = text("en", "ap_queue_line", id=12345, user="u1", host="example.com", phase="queued", age="1 min")
    assert line.startswith("#12345 ")
    assert digits("fa", "12.5") == "۱۲٫۵" and digits("en", "12.5") == "12.5"
    assert size("en", 12_345_678) == "12.3 MB" and size("en", 2_500_000_000) == "2.5 GB"
    assert duration("en", 180) == "3 minutes" and duration("en", 110 * 86400) == "4 months"
    assert date("en", datetime.date(2026, 8, 19)) == "August 19, 2026"
    for shown in (size("fa", 12_345_678), duration("fa", 180), date("fa", datetime.date(2026, 8, 19))):
        assert not any(ch.isascii() and ch.isdigit() for ch in shown) and PERSIAN_DIGITS & set(shown), shown


def test_the_tables_of_keys_cover_what_they_name():
    """A new limit, menu entry, job state or step needs its row in the table of keys."""
    from core.runtime_limits import RUNTIME
    from core.schema import JOB_STATES
    from gateway.admin.limits import HELP_KEYS
    from gateway.admin.menu import ASK_KEYS, ENTRIES, LABEL_KEYS
    from gateway.admin.profile import CONFIRM_KEYS, STEPS
    from gateway.admin.queue import PHASE_KEYS

    assert set(HELP_KEYS) == set(RUNTIME)
    assert set(LABEL_KEYS) == {name for name, _ in ENTRIES}
    assert set(ASK_KEYS) == {name for name, how in ENTRIES if how == "ask"}
    assert set(PHASE_KEYS) == set(JOB_STATES)
    assert set(CONFIRM_KEYS) == set(STEPS.values())
