"""An HTTP 4xx from a site is the link's problem: "not found, check the link", never an internal
error, and not retried; the 4xx with a meaning of their own keep it (401, 403, 429, 451)."""

from __future__ import annotations

import io

import pytest
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import DownloadError

from downloader.errors import ErrorClass, classify


def http_error(status: int) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "https://example.invalid/v", {}, status=status))


@pytest.mark.parametrize("status", [400, 404, 405, 406, 409, 410, 414, 418, 422, 499])
def test_a_4xx_is_not_found_and_not_retried(status):
    for exc in (
        DownloadError(f"ERROR: HTTP Error {status}: Whatever", (HTTPError, http_error(status), None)),
        DownloadError(f"ERROR: [generic] Unable to download webpage: HTTP Error {status}: Whatever (caused by x)"),
    ):
        failure = classify(exc)
        assert failure.cls is ErrorClass.NOT_FOUND, (status, failure)
        assert not failure.retryable and not failure.platform_fault


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, ErrorClass.LOGIN_REQUIRED),
        (403, ErrorClass.PRIVATE),
        (429, ErrorClass.RATE_LIMITED),
        (451, ErrorClass.GEO_BLOCKED),
    ],
)
def test_the_4xx_with_a_meaning_of_their_own_keep_it(status, cls):
    assert classify(DownloadError(f"ERROR: HTTP Error {status}", (HTTPError, http_error(status), None))).cls is cls
    assert classify(DownloadError(f"ERROR: HTTP Error {status}: x")).cls is cls
