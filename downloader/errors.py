"""Failure classes (interim: the table-driven module replaces it)."""

from __future__ import annotations

from dataclasses import dataclass

from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, UnsupportedError

from core.jobs import Failure


@dataclass(frozen=True)
class LimitExceeded(Exception):
    """A limit refused the media before or during the download (too large, too long, live)."""

    error_class: str
    values: dict[str, object]


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, LimitExceeded):
        return Failure(exc.error_class, str(exc), retryable=False, values=dict(exc.values))
    cause = exc
    if isinstance(exc, DownloadError) and exc.exc_info and exc.exc_info[1] is not None:
        cause = exc.exc_info[1]
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(cause, UnsupportedError) or "Unsupported URL" in str(exc):
        return Failure("unsupported", reason, retryable=False)
    if isinstance(cause, HTTPError) and cause.status in (404, 410):
        return Failure("not_found", reason, retryable=False)
    if isinstance(cause, TransportError | OSError):
        return Failure("network", reason, retryable=True)
    return Failure("internal", reason, retryable=False)
