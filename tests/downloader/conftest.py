"""yt-dlp runs in this process here, and it leaves what it gives up open: its HTTP downloader
closes only the file of a download it abandons (a hook that cancels, a refused HLS fragment), and
its fragment downloader leaves the fragment's file open when the guard refuses a key or the next
fragment. The garbage collector closes them later, with a ResourceWarning in whichever phase of
whichever test it happens to run. So every test here ends by collecting its own garbage, and only
those two warnings about yt-dlp's leftovers are dropped, in all of a test's phases (pytest applies
a test's filterwarnings marks to its teardown too, where its own collections run); every other
warning is an error."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

_YTDLP_LEFTOVERS = (
    r"ignore:unclosed <socket\.socket:ResourceWarning",
    r"ignore:unclosed file <_io\.(FileIO|BufferedWriter):ResourceWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            for rule in _YTDLP_LEFTOVERS:
                item.add_marker(pytest.mark.filterwarnings(rule))


@pytest.fixture(autouse=True)
def collect_ytdlp_leftovers() -> Iterator[None]:
    yield
    gc.collect()
    # What outlives a collection is alive (yt-dlp's extractors, the session's fixtures): frozen, it
    # is not walked again, so the next test's collection looks only at what that test made (a full
    # walk of yt-dlp's heap cost about 0.2 s per test, a minute over the folder).
    gc.freeze()
