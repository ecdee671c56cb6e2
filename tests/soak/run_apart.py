"""`run.py` in sandbox mode against a sandbox that runs apart (at `--sandbox-port`), so that
"Telegram" outlives the bot: the graceful-stop test stops the whole bot and starts it again while
the users' chats stay.

It is run.py itself (its settings, its lock, its supervisor and children, its ready line), with
one thing left out: the supervisor starts no sandbox child.

    python tests/soak/run_apart.py --sandbox --sandbox-port PORT --workers 2 --data-dir DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import run  # (the repository on the path first)
from core.supervisor import children


def no_sandbox(port: int, data_dir: str) -> None:
    return None


if __name__ == "__main__":
    children.sandbox_spec = no_sandbox  # type: ignore[assignment]
    sys.exit(run.main())
