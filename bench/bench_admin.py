"""The admin panel's costs, through every process (`run.py --sandbox --workers 2`):

    .venv/bin/python bench/bench_admin.py [--rounds 5] [--links 50]

(a) the gateway's RSS before and after /stats with its chart (goal, issue 15: the drawing library
    never stays in the gateway, so no growth beyond noise), and whether an imaging library is
    mapped in it;
(b) the chart: from /stats to the photo in the admin's chat (median of `--rounds`);
(c) `--links` links from as many users at once: the time to each first answer without a chart
    and while one is drawn (median and max of each, medians over `--rounds`; goal: drawing does
    not delay them).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402
from tests.e2e import test_admin_panel as panel  # noqa: E402
from tests.support.bot import BotProcess, Chat  # noqa: E402
from tests.support.poll import until  # noqa: E402

TABLE_ARGS = ["--rounds", "1"]  # `make bench`
ADMIN = 4242
HTTP_TIMEOUT_S = 60.0


async def run(rounds: int, links: int) -> None:
    panel.LINKS_AT_ONCE = links
    env = {"ADMIN_IDS": str(ADMIN), "USER_REQUESTS_PER_MIN": "1000", "LOG_LEVEL": "warning"}
    folder = Path(tempfile.mkdtemp(prefix="bench-admin-"))
    bot = BotProcess(folder, env=env, workers=2)
    try:
        async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as http:
            admin = Chat(http, ADMIN, bot)
            rss_idle, _ = panel.gateway_memory(bot)
            chart_s: list[float] = []
            for _ in range(rounds):
                before = len(await panel._photos(admin))
                began = trio.current_time()
                await admin.say("/stats")

                async def arrived(count: int = before) -> bool:
                    return await panel._more_photos(admin, count)

                await until("the chart", arrived, 60)
                chart_s.append(trio.current_time() - began)
            rss_after, imaging = panel.gateway_memory(bot)
            print(f"gateway RSS: {rss_idle:.1f} MB before /stats, {rss_after:.1f} MB after {rounds} charts")
            print(f"imaging library mapped in the gateway: {'yes' if imaging else 'no'}")
            print(f"/stats to the chart in the chat: median {statistics.median(chart_s):.2f} s (of {rounds})")
            result(f"the gateway's RSS growth over {rounds} /stats with a chart", rss_after - rss_idle, "MB",
                   digits=1, note=f"{rss_idle:.1f} MB before")  # fmt: skip
            result("imaging libraries mapped in the gateway after /stats", int(imaging), "", goal="0", digits=0)
            result("/stats to its chart in the admin's chat", statistics.median(chart_s), "s")
            plain, drawn = [], []
            for n in range(rounds):
                plain.append(await panel.fifty_links(http, bot, f"b{n}"))
                drawn.append(await panel.fifty_links(http, bot, f"c{n}", also=lambda: admin.say("/stats")))
            shown = {}
            for name, runs in (("without a chart", plain), ("while one is drawn", drawn)):
                medians = statistics.median(statistics.median(r) for r in runs)
                maxima = statistics.median(max(r) for r in runs)
                print(f"first answer to {links} links {name}: median {medians:.3f} s, max {maxima:.3f} s")
                shown[name] = (medians, maxima)
            (alone, alone_max), (drawing, drawing_max) = shown.values()
            without = f"without a chart: median {alone:.2f} s, max {alone_max:.2f} s"
            result(f"first answer to {links} links at once while a chart is drawn: median", drawing, "s",
                   goal="no later than without a chart", note=f"max {drawing_max:.2f} s; {without}")  # fmt: skip
    finally:
        bot.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--links", type=int, default=50)
    args = parser.parse_args()
    trio.run(run, args.rounds, args.links)


if __name__ == "__main__":
    main()
