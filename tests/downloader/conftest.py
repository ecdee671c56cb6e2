"""yt-dlp runs in this process here, and its HTTP downloader leaves the response of a download
it gives up (a hook that cancels, a refused HLS fragment) open: `yt_dlp/downloader/http.py`
closes only the file. The garbage collector closes that socket later, with a ResourceWarning
in whichever test it happens to run. So each test ends by collecting its own garbage, and only
that warning about yt-dlp's unclosed sockets is dropped there; every other one is an error."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_ytdlp_leftovers() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="unclosed <socket.socket", category=ResourceWarning)
        gc.collect()
