""".env.example, written from the settings in `core/config.py`: every setting with its default
and its help line, under the section comments of the Settings class.

`python run.py --env-example > .env.example` regenerates it; tests/settings/test_env_example.py
fails when the file and this rendering differ. The settings an operator must fill in are left
uncommented and empty; every other one is commented out, so that a copied `.env` keeps only what
the operator changed and later releases can move the defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from core.config import Settings, as_environ

FILL_IN = ("BOT_TOKEN", "API_ID", "API_HASH", "ADMIN_IDS")  # what check_credentials asks for
HEADER = """\
# The bot's settings, generated from core/config.py by `python run.py --env-example`: do not edit
# this file, edit core/config.py and run that command again.
# Copy it to .env and fill in the first four. Every other line shows the default; uncomment a line
# to change it. The process environment and run.py's flags override .env.
"""
_SECTION = re.compile(r"^\s*# ---- (.+?) -+\s*$")
_FIELD = re.compile(r"^\s*(\w+): .*= setting\($")
_FIELD_ONE_LINE = re.compile(r"^\s*(\w+): .*= setting\(")

EXAMPLE_PATH = Path(__file__).resolve().parents[1] / ".env.example"


def sections() -> list[tuple[str, list[str]]]:
    """(section title, field names) in the order of the Settings class's source."""
    found: list[tuple[str, list[str]]] = []
    for line in inspect.getsource(Settings).splitlines():
        section = _SECTION.match(line)
        if section:
            found.append((section.group(1).strip(), []))
            continue
        field = _FIELD.match(line) or _FIELD_ONE_LINE.match(line)
        if field and found:
            found[-1][1].append(field.group(1))
    return found


def render() -> str:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    defaults = Settings()
    listed = [name for _, names in sections() for name in names]
    missing = sorted(set(fields) - set(listed))
    if missing:  # a setting declared outside every section: keep the generator honest
        raise RuntimeError(f"settings outside a section of core/config.py: {', '.join(missing)}")
    out = [HEADER]
    for title, names in sections():
        out.append(f"\n# ---- {title}\n")
        for name in names:
            meta = fields[name].metadata
            env = meta["env"]
            shown = meta["shown"] if meta["shown"] is not None else as_environ(env, getattr(defaults, name))
            out.append(f"# {meta['help']}\n")
            out.append(f"{env}=\n" if env in FILL_IN else f"# {env}={shown}\n")
    return "".join(out)
