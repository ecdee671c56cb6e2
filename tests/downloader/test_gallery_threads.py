"""gallery-dl in a downloader's slots at once: its extractors are loaded on first use by one
generator shared by every thread; slots that ask together must not break each other (this is
what a burst of image posts did to a fresh downloader: "generator already executing")."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import ROOT

THREADS = 8
FRESH_PROCESS = """
import json, sys, threading
from downloader.gallery import site_of
errors, barrier = [], threading.Barrier({threads})
def run(i):
    barrier.wait()
    try:
        site_of(f"https://example{{i}}.com/post/{{i}}")
        site_of("https://www.instagram.com/p/abc/")
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(i,)) for i in range({threads})]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(errors))
"""


def test_slots_that_look_up_extractors_at_once_in_a_fresh_process_all_succeed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS.format(threads=THREADS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
