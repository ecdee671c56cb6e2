"""The per-link cost in the gateway: finding links in a message and keying them, naive vs indexed.

Usage: .venv/bin/python bench/bench_links.py [--rounds 200] [--naive-rounds 20] [--full]

Prints the time to build the index's table from yt-dlp (a process of its own) and to load it,
then per-URL p50/p99 of the extractor match for a mix of YouTube, Instagram, TikTok and generic
links: yt-dlp's own loop (every extractor's suitable() in order) against the index, and the full
`request_key` (match, id, normalisation). Then `find_links` per message. With `--full` it also
checks the index against the loop on every URL in yt-dlp's extractor tests (about four minutes).
Goals: a generic URL and a YouTube URL under 0.3 ms each, after preparation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from core import extractor_index  # noqa: E402
from core.extractor_index import ExtractorIndex, Found  # noqa: E402
from core.media_keys import request_key  # noqa: E402
from core.telegram import Entity  # noqa: E402
from gateway.links import find_links  # noqa: E402

TABLE_ARGS = ["--rounds", "1000"]  # `make bench`: more samples, a steadier p99 on a shared machine
GOAL_MS = 0.3
GOAL_KINDS = ("youtube", "generic")  # the docstring's goals
MIX = {
    "youtube": [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&si=Ab12Cd34Ef56",
        "https://youtu.be/dQw4w9WgXcQ?si=xyz",
        "https://www.youtube.com/shorts/aqz-KE-bpKQ",
    ],
    "instagram": [
        "https://www.instagram.com/reel/C1a2B3c4D5e/?igsh=MWQ1ZGUxMzBkMA==",
        "https://www.instagram.com/p/Cxyz/",
    ],
    "tiktok": [
        "https://www.tiktok.com/@someone/video/7301234567890123456?is_from_webapp=1",
        "https://vm.tiktok.com/ZMabc/",
    ],
    "generic": [
        "https://example.com/files/video.mp4?utm_source=telegram&id=3",
        "https://cdn.some-site.ir/media/2024/05/clip_final.mp4",
        "https://news.example.org/article/2024/what-happened-today?ref=home#player",
    ],
}
MESSAGE = "سلام 👋 این ویدیو رو ببین: youtu.be/dQw4w9WgXcQ و این یکی https://example.com/v.mp4 🙏"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(call: Callable[[], object], rounds: int) -> list[float]:
    call()  # warm: the first call compiles the patterns it touches
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def report(label: str, samples: list[float], goal: float | None = None) -> str:
    """Print the line; the percentiles, for a table's note."""
    p50, p99 = percentiles(samples)
    verdict = "" if goal is None else ("  ok" if p99 < goal else f"  over the {goal} ms goal")
    print(f"  {label:<28} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms{verdict}")
    return f"p50 {p50:.3f}, p99 {p99:.3f} ms"


def naive_match(extractors: list[Any], url: str) -> Found | None:
    """yt-dlp's own loop: the first extractor whose suitable() says yes (Generic last)."""
    ie = next(ie for ie in extractors if ie.suitable(url))
    return None if ie.ie_key() == extractor_index.GENERIC else Found(ie.ie_key(), ie.get_temp_id(url))


def full_check(index: ExtractorIndex, extractors: list[Any]) -> None:
    urls = sorted({t["url"] for ie in extractors for t in ie.get_testcases(True) if isinstance(t.get("url"), str)})
    start = time.perf_counter()
    wrong = [url for url in urls if index.find(url) != naive_match(extractors, url)]
    print(f"full check: {len(urls)} test URLs, {len(wrong)} differ ({time.perf_counter() - start:.0f} s) {wrong[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per URL, indexed")
    parser.add_argument("--naive-rounds", type=int, default=20, help="timed calls per URL, naive loop")
    parser.add_argument("--full", action="store_true", help="compare with the loop on all yt-dlp test URLs")
    args = parser.parse_args()

    start = time.perf_counter()
    index = extractor_index.prepare()
    prepared = time.perf_counter() - start
    print(
        f"prepare: build the table and load it {prepared:.2f} s "
        f"({index.listed} extractors, {len(index.always)} tried on every URL)"
    )
    result("the table of yt-dlp's extractors: built (a process of its own) and loaded", prepared, "s",
           note=f"{index.listed} extractors")  # fmt: skip
    from yt_dlp.extractor import gen_extractor_classes

    extractors = gen_extractor_classes()
    for kind, urls in MIX.items():
        print(kind)
        naive = [s for url in urls for s in timed(partial(naive_match, extractors, url), args.naive_rounds)]
        indexed = [s for url in urls for s in timed(partial(index.find, url), args.rounds)]
        keyed = [s for url in urls for s in timed(partial(request_key, url), args.rounds)]
        loop = report("naive loop", naive)
        report("indexed", indexed, GOAL_MS)
        key = report("request_key (indexed)", keyed)
        result(f"{kind} link: its extractor, from the index: p99", percentiles(indexed)[1], "ms", digits=3,
               goal=f"< {GOAL_MS} ms" if kind in GOAL_KINDS else "",
               note=f"its key (request_key) {key}; yt-dlp's own loop {loop}")  # fmt: skip
    entities = [Entity("url", MESSAGE.index("youtu.be") + 1, len("youtu.be/dQw4w9WgXcQ"))]  # +1: the emoji
    print("find_links")
    found = timed(lambda: find_links(MESSAGE, entities, 5), args.rounds * 5)
    report("2 links, Persian and emoji", found)
    result("find_links in a message: 2 links, Persian and emoji: p99", percentiles(found)[1], "ms", digits=3)
    if args.full:
        full_check(index, extractors)


if __name__ == "__main__":
    main()
