"""`.env.example` is generated from core/config.py: every setting, its default and its help line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from core.config import Settings, load_settings, read_env_file
from core.env_example import EXAMPLE_PATH, FILL_IN, render
from tests.support.paths import ROOT


def test_the_file_is_what_the_settings_render():
    on_disk = EXAMPLE_PATH.read_text(encoding="utf-8")
    assert on_disk == render(), "`.env.example` is stale: run `python run.py --env-example > .env.example`"


def test_run_py_prints_it():
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-example"], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == render()


def test_every_setting_is_there_with_its_help_and_default():
    lines = render().splitlines()
    for f in dataclasses.fields(Settings):
        env, help_line = f.metadata["env"], f"# {f.metadata['help']}"
        if env in FILL_IN:
            at = lines.index(f"{env}=")
        else:
            at = next(i for i, line in enumerate(lines) if line.startswith(f"# {env}="))
        assert lines[at - 1] == help_line, env
    assert "# DEFAULT_LANGUAGE=fa" in lines and "# JOB_ATTEMPTS=3" in lines and "# WORKERS=auto" in lines


def test_a_copy_starts_as_the_defaults(tmp_path):
    copy = tmp_path / ".env"
    copy.write_text(render())
    assert read_env_file(copy) == {name: "" for name in FILL_IN}
    assert load_settings({}, env_file=copy) == load_settings({}, env_file=None)
