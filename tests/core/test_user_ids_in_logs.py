"""User ids reach a log only as a salted hash (`core.logs.uid`), unless LOG_USER_IDS=1: every log
call that names a user, an admin or a chat passes the id through uid(); the hash is stable within
an installation and differs between installations."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core import logs
from core.logs import configure_user_ids, uid

ROOT = Path(__file__).resolve().parents[2]
CODE = ("core", "gateway", "downloader", "uploader", "monitor", "sandbox", "run.py")
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
# a placeholder right after a word that says the number is a person (or a private chat)
NAMED = re.compile(r"\b(?:user|users|admin|chat)\s*(?:id\s*)?[=:#]?\s*$", re.IGNORECASE)
PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrif]")


def _sources() -> list[Path]:
    paths = [ROOT / p for p in CODE]
    return sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py")))


def _unhashed(call: ast.Call) -> list[int]:
    name = getattr(call.func, "attr", "")
    first = 1 if name == "log" else 0
    if name not in LEVELS | {"log"} or len(call.args) <= first:
        return []
    fmt = call.args[first]
    if not (isinstance(fmt, ast.Constant) and isinstance(fmt.value, str)):
        return []
    found = []
    for index, match in enumerate(PLACEHOLDER.finditer(fmt.value)):
        if not NAMED.search(fmt.value[: match.start()]):
            continue
        arg = call.args[first + 1 + index] if first + 1 + index < len(call.args) else None
        hashed = isinstance(arg, ast.Call) and getattr(arg.func, "id", getattr(arg.func, "attr", "")) == "uid"
        if not hashed:
            found.append(call.lineno)
    return found


def test_every_log_line_naming_a_user_hashes_the_id():
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _unhashed(node)]
    assert offenders == [], f"log user/admin/chat ids through core.logs.uid(): {offenders}"


def test_the_hash_is_stable_per_installation_and_plain_on_request(tmp_path):
    saved = dict(logs._user_ids)
    try:
        configure_user_ids(tmp_path / "a", plain=False)
        first = uid(123456789)
        configure_user_ids(tmp_path / "a", plain=False)  # another process of the same installation
        assert uid(123456789) == first and "123456789" not in first and first.startswith("u")
        assert (tmp_path / "a" / "log-salt").stat().st_mode & 0o777 == 0o600
        configure_user_ids(tmp_path / "b", plain=False)
        assert uid(123456789) != first  # another installation, another salt
        configure_user_ids(tmp_path / "b", plain=True)
        assert uid(123456789) == "123456789"
    finally:
        logs._user_ids.update(saved)
