"""Logging for every process: one line per event, secrets redacted, to the console and to files.

Each record becomes one line (a traceback is folded into it), in LOG_FORMAT:
- `text`: key=value pairs, `ts=2026-12-07T11:42:38.123Z level=info proc=downloader-1 pid=4242
  logger=downloader.worker job=42 msg="job 42 stopped: the worker is draining; handed back"`;
- `json`: the same keys in one JSON object a line.
`job` is there when the event belongs to a job: the job a task works on (`job_context`, a context
variable, so it follows the task into yt-dlp's worker thread), or the id a message names ("job 42").

Lines go to stderr (which systemd's journal collects) and to `DATA_DIR/logs/<process>.log`,
rotated at LOG_FILE_MAX_MB with LOG_FILE_COUNT old files kept: one file per process, because
rotation is not safe across processes.

Nothing secret reaches a line: every secret setting's value (the bot token, the api hash, the
Premium session string, proxy passwords), and any password written inside a URL, become `***`.
User ids (and chat ids) are logged through `uid()`: a salted hash, the same in every process of
one installation (the salt is DATA_DIR/log-salt), so one user's lines can be followed without the
log naming them; LOG_USER_IDS=1 logs the ids themselves.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config import Settings

MIB = 1024 * 1024
FORMATS = ("text", "json")
REDACTED = "***"
# user:password@ inside any URL, whatever the scheme: the password goes
_URL_PASSWORD = re.compile(r"(?<=://)([^/@\s:]*):([^/@\s]+)@")
# "job 42", "job #42": the job a message is about, when no context says it
_JOB_IN_TEXT = re.compile(r"\bjob #?(\d+)\b")
# Libraries that log request URLs would print the bot token; keep them at WARNING.
NOISY = ("httpx", "httpcore", "hpack", "pyrogram", "asyncio", "hypercorn.access")

_job: contextvars.ContextVar[int | None] = contextvars.ContextVar("job", default=None)
SALT_FILE = "log-salt"
SALT_BYTES = 32
UID_HEX = 10  # 40 bits of the hash: distinct enough to follow one user through a log
_user_ids = {"salt": os.urandom(SALT_BYTES), "plain": False}  # until configured: hashed all the same


def uid(user_id: int | None) -> str:
    """A user (or chat) id as the log may show it: `u` and a salted hash, or the id itself with
    LOG_USER_IDS=1."""
    if user_id is None:
        return "-"
    if _user_ids["plain"]:
        return str(user_id)
    salt = _user_ids["salt"]
    assert isinstance(salt, bytes)
    return "u" + hmac.new(salt, str(int(user_id)).encode(), hashlib.sha256).hexdigest()[:UID_HEX]


def configure_user_ids(data_dir: Path | None, plain: bool) -> None:
    """Hash with the installation's salt (made once, atomically, by whichever process comes first)."""
    _user_ids["plain"] = plain
    if data_dir is None or plain:
        return
    path = data_dir / SALT_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{SALT_FILE}.{os.getpid()}"
        draft.write_bytes(os.urandom(SALT_BYTES))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # the first process's salt wins; the others read it
        draft.unlink()
    _user_ids["salt"] = path.read_bytes()


@contextlib.contextmanager
def job_context(job_id: int) -> Iterator[None]:
    """Every line logged inside (by this task, and the threads it runs) carries `job=<job_id>`."""
    token = _job.set(job_id)
    try:
        yield
    finally:
        _job.reset(token)


class RedactSecrets(logging.Filter):
    """Replace every known secret value, and passwords in URLs, in a record's final text by '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):  # one record, several handlers
            return True
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._redacted = True
        return True


class OneLine(logging.Formatter):
    """A record as one line of key=value pairs or of JSON (see the module docstring)."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {FORMATS}")
        self.json = fmt == "json"

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        ts = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out: dict[str, Any] = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "proc": record.processName,
            "pid": record.process,
            "logger": record.name,
        }
        job = getattr(record, "job", None) or _job.get()
        if job is None and (named := _JOB_IN_TEXT.search(message)):
            job = int(named.group(1))
        if job is not None:
            out["job"] = job
        out["msg"] = message
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return out

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        if self.json:
            return json.dumps(fields, ensure_ascii=False, default=str)
        return " ".join(f"{key}={_value(value)}" for key, value in fields.items())


def _value(value: object) -> str:
    text = str(value)
    if text and not any(ch in text for ch in ' "=\\\n\r\t'):
        return text
    return json.dumps(text, ensure_ascii=False)  # quoted, with \n for newlines: the line stays one line


def setup_logging(
    process_name: str,
    level: str = "INFO",
    secrets: Iterable[str] = (),
    *,
    fmt: str = "text",
    log_dir: Path | None = None,
    file_max_bytes: int = 20 * MIB,
    file_count: int = 5,
) -> None:
    """Configure the root logger of this process; call once at start."""
    import multiprocessing

    multiprocessing.current_process().name = process_name
    redact = RedactSecrets(secrets)
    formatter = OneLine(fmt)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / f"{process_name}.log", maxBytes=file_max_bytes, backupCount=file_count, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def setup_from_settings(process_name: str, settings: Settings) -> None:
    """`setup_logging` with LOG_LEVEL, LOG_FORMAT, the secrets, files in DATA_DIR/logs, and user
    ids hashed with DATA_DIR's salt unless LOG_USER_IDS."""
    configure_user_ids(settings.data_dir, settings.log_user_ids)
    setup_logging(
        process_name,
        settings.log_level,
        settings.secrets(),
        fmt=settings.log_format,
        log_dir=settings.log_dir,
        file_max_bytes=settings.log_file_max_mb * MIB,
        file_count=settings.log_file_count,
    )
