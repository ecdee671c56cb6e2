"""Every log a test run wrote, searched for the secrets the tests hand the bot.

The bot writes its logs to stderr (kept by the tests in `bot.log` files) and to
`DATA_DIR/logs/<process>.log*`; `leaks()` reads every such file under a folder."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# What the suites give the bot as secrets. A test may add its own to `leaks()`.
KNOWN_SECRETS = (
    "1000001:sandbox-token-not-secret",  # run.py's token in sandbox mode
    "424243:real-mode-test-token",  # tests/support/bot.py
    "123456:supervisor-test-token",  # tests/supervisor/harness.py
    "424242:contract-suite-token",  # tests/contract
)
LOG_NAME = re.compile(r"(^bot\.log$|\.log(\.\d+)?$|\.stderr$)")


def log_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and LOG_NAME.search(p.name))


def leaks(folder: Path, secrets: Iterable[str] = KNOWN_SECRETS) -> list[str]:
    """'<file>: <secret>' for each secret found in a log file under `folder`."""
    found = []
    wanted = [s for s in secrets if s]
    for path in log_files(folder):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path}: {secret}" for secret in wanted if secret in text]
    return found
