"""yt-dlp runs in this process here, and its HTTP downloader leaves the response of a download
it gives up (a hook that cancels, a refused HLS fragment) open: `yt_dlp/downloader/http.py`
closes only the file (and its HLS downloader, giving up on a key, not even that). The garbage
collector closes them later, with a ResourceWarning in whichever test it happens to run. So each
test ends by collecting its own garbage, and only those warnings about yt-dlp's unclosed sockets
and files are dropped; every other one is an error."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_ytdlp_leftovers() -> Iterator[None]:
    # The collector may run in the middle of the test, too (when it runs depends on how much the
    # process has allocated, so on every import before): the warning is dropped for all of it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="unclosed <socket.socket", category=ResourceWarning)
        # ... and its HLS downloader leaves the .part file of a download it gives up open too
        # (yt_dlp/downloader/fragment.py opens it before the key or a fragment is fetched).
        warnings.filterwarnings("ignore", message="unclosed file <_io.BufferedWriter", category=ResourceWarning)
        yield
        gc.collect()
