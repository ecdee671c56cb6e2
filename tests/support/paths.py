"""Where things are, for every suite: the repository, `run.py`, the folder of test artifacts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = ROOT / "run.py"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and the like, kept after the run
