"""The chart of /stats: jobs per day for 14 days, stacked by platform, as a PNG in the admin's
language, sent as a photo after the figures.

Drawing takes an imaging library (Pillow, with HarfBuzz and FriBiDi to shape Persian and lay it
out right to left) and a hundred milliseconds or more of CPU: neither belongs in the gateway,
whose update loop must not stall and whose memory must stay small. So the gateway only gathers
the numbers and the labels (`chart_spec`, inside the /stats transaction) and `Charts.run` hands
them to a short-lived process (`python -m gateway.admin.draw_chart`), which writes the PNG into a
folder of the spool; the photo goes out through the outbox like any file, and the uploader
removes the folder once it is sent.
"""

from __future__ import annotations

import datetime
import json
import logging
import secrets
import shutil
import sys
import time
from typing import Any

import sqlite_utils
import trio

from core import outbox
from core.config import Settings
from core.db import write_tx
from core.logs import uid
from core.payloads import SendMedia, Text
from core.texts import digits, text

log = logging.getLogger("gateway.admin.chart")

DAYS = 14
PLATFORMS_DRAWN = 5  # the rest are stacked as "other"
QUEUE = 4  # charts waiting to be drawn; past that /stats sends none
DRAW_TIMEOUT = 30.0  # seconds the drawing process may take
FOLDER_PREFIX = "chart-"
LEFTOVER_AGE = 3600.0  # a chart folder this old was left by a crash: removed at start
ERROR_CHARS = 300


def jalali(day: datetime.date) -> tuple[int, int, int]:
    """The Solar Hijri date Persian readers use (year, month, day): the arithmetic of the widely
    used jdf converter, exact for 1800-2200."""
    before_month = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
    gy2 = day.year + 1 if day.month > 2 else day.year
    days = (
        355666 + 365 * day.year + (gy2 + 3) // 4 - (gy2 + 99) // 100 + (gy2 + 399) // 400
        + day.day + before_month[day.month - 1]
    )  # fmt: skip
    year = -1595 + 33 * (days // 12053)
    days %= 12053
    year += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        year += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return year, 1 + days // 31, 1 + days % 31
    return year, 7 + (days - 186) // 30, 1 + (days - 186) % 30


def day_label(lang: str, day: datetime.date) -> str:
    if lang == "fa":
        _, month, dom = jalali(day)
        return digits(lang, f"{month}/{dom}")
    return day.strftime("%b %-d")


def chart_spec(
    db: sqlite_utils.Database, settings: Settings, lang: str, today: datetime.date | None = None
) -> dict[str, Any]:
    """What the drawing process needs: labels in `lang`, the days, one series per platform."""
    last = today or datetime.date.today()
    days = [last - datetime.timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = datetime.datetime.combine(days[0], datetime.time()).timestamp()
    rows = db.execute(
        "SELECT date(created_at, 'unixepoch', 'localtime'), coalesce(platform, '?'), count(*) FROM jobs"
        " WHERE parent_id IS NULL AND created_at >= ? GROUP BY 1, 2",
        [since],
    ).fetchall()
    index = {d.isoformat(): i for i, d in enumerate(days)}
    totals: dict[str, int] = {}
    per_day: dict[str, list[int]] = {}
    for day, platform, count in rows:
        if day in index:
            per_day.setdefault(platform, [0] * DAYS)[index[day]] += count
            totals[platform] = totals.get(platform, 0) + count
    ranked = sorted(totals, key=lambda p: (-totals[p], p))
    unknown = text(lang, "ap_chart_unknown")
    series = [{"name": unknown if p == "?" else p, "values": per_day[p]} for p in ranked[:PLATFORMS_DRAWN]]
    if len(ranked) > PLATFORMS_DRAWN:
        other = [sum(per_day[p][i] for p in ranked[PLATFORMS_DRAWN:]) for i in range(DAYS)]
        series.append({"name": text(lang, "ap_chart_other"), "values": other})
    return {
        "title": text(lang, "ap_chart_title", days=digits(lang, DAYS)),
        "empty": text(lang, "ap_chart_empty"),
        "days": [day_label(lang, d) for d in days],
        "series": series,
        "numbers": [digits(lang, n) for n in range(10)],  # the digits of the axis, as the reader writes them
        "rtl": lang == "fa",
        "lang": lang,
        "font": str(settings.chart_font),
    }


class Charts:
    """The gateway's side: a short queue of charts to draw, drawn one at a time."""

    def __init__(self, settings: Settings, db: sqlite_utils.Database, announce: Any) -> None:
        self.settings = settings
        self.db = db
        self.announce = announce
        self._send, self._receive = trio.open_memory_channel[tuple[int, dict[str, Any]]](QUEUE)

    def request(self, chat_id: int, spec: dict[str, Any]) -> bool:
        """Queue a chart for `chat_id`; False when too many wait already."""
        try:
            self._send.send_nowait((chat_id, spec))
        except trio.WouldBlock:
            return False
        return True

    async def run(self) -> None:
        self._remove_leftovers()
        async for chat_id, spec in self._receive:
            try:
                await self._draw(chat_id, spec)
            except OSError as exc:  # the spool folder cannot be made, the program cannot start
                log.error("chart for chat %s not drawn: %s", uid(chat_id), exc)

    async def _draw(self, chat_id: int, spec: dict[str, Any]) -> None:
        folder = self.settings.spool_dir / f"{FOLDER_PREFIX}{secrets.token_hex(6)}"
        folder.mkdir(parents=True)
        png = folder / "chart.png"
        began = time.monotonic()
        argv = [sys.executable, "-m", "gateway.admin.draw_chart", str(png)]
        with trio.move_on_after(DRAW_TIMEOUT):
            done = await trio.run_process(argv, stdin=json.dumps(spec).encode(), capture_stderr=True, check=False)
            if done.returncode == 0 and png.is_file():
                log.info("chart for chat %s drawn in %.2f s", uid(chat_id), time.monotonic() - began)
                self._send_photo(chat_id, spec, SendMedia(kind="photo", path=str(png), spool_dir=str(folder)))
                return
            problem = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            log.error("chart for chat %s not drawn: %s", uid(chat_id), problem[0][:ERROR_CHARS])
        if time.monotonic() - began >= DRAW_TIMEOUT:
            log.error("chart for chat %s not drawn within %.0f s; stopped", uid(chat_id), DRAW_TIMEOUT)
        shutil.rmtree(folder, ignore_errors=True)
        self._send_photo(chat_id, spec, None)

    def _send_photo(self, chat_id: int, spec: dict[str, Any], photo: SendMedia | None) -> None:
        lang = str(spec.get("lang", self.settings.default_language))
        with write_tx(self.db):
            payload = photo or Text(text=text(lang, "ap_chart_failed"))
            item = outbox.enqueue(self.db, chat_id, payload, priority=outbox.PRIORITY_ANSWER)
        self.announce([item])

    def _remove_leftovers(self) -> None:
        spool = self.settings.spool_dir
        if not spool.is_dir():
            return
        for folder in spool.glob(f"{FOLDER_PREFIX}*"):
            try:
                if time.time() - folder.stat().st_mtime > LEFTOVER_AGE:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue
