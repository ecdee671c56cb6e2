"""Logging for every process: one format with the process name and pid, secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replace every known secret value in a record's final text by '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text or ""
        for secret in self.secrets:
            text = text.replace(secret, "***")
            exc_text = exc_text.replace(secret, "***")
        record.msg, record.args = text, None
        record.exc_text = exc_text or None
        return True


def setup_logging(process_name: str, level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger of this process; call once at start."""
    import multiprocessing

    multiprocessing.current_process().name = process_name
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that log request URLs would print the bot token; keep them at WARNING.
    for noisy in ("httpx", "httpcore", "hpack", "pyrogram", "asyncio", "hypercorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
