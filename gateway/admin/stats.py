"""/stats: the figures an operator acts on, all from the database (so a restart changes none),
and a chart of the jobs per day (`gateway.admin.chart`, drawn in a process of its own).

Jobs are what users asked for: a link is one job, a playlist one job (its entries are not counted
again). Times (link to file, download, upload) are medians over the files sent in the last 7
days; a cache hit is a file sent by the file_id Telegram already had, without a download.
"Today" is since midnight in the server's time zone.
"""

from __future__ import annotations

import datetime
import html
import logging
import time
from typing import Any

import sqlite_utils

from core.jobstates import ACTIVE, FINAL, JobState, sql_in, sql_is
from core.logs import uid
from core.telegram import IncomingMessage
from core.texts import digits
from gateway.admin.audit import admin_only
from gateway.admin.chart import Charts, chart_spec
from gateway.context import Request

log = logging.getLogger("gateway.admin.stats")

DAY = 86400.0
WEEK_DAYS = 7
TOP_PLATFORMS = 5
SHORT_S = 10.0  # times below this are shown to the hundredth of a second
UNKNOWN_PLATFORM = "?"  # a job that ended before its link was looked at
RUNNING = (JobState.PROBING, JobState.DOWNLOADING, JobState.UPLOADING)
TOP_LEVEL = "parent_id IS NULL"
# A job that brings files (not a playlist, whose entries bring them); done within the window.
FILES_DONE = (
    f"state = {sql_is(JobState.DONE)} AND json_extract(coalesce(meta, '{{}}'), '$.playlist') IS NULL"
    " AND finished_at >= ?"
)


def midnight(now: float | None = None) -> float:
    day = datetime.datetime.fromtimestamp(time.time() if now is None else now).date()
    return datetime.datetime.combine(day, datetime.time()).timestamp()


def _median(db: sqlite_utils.Database, expression: str, since: float) -> float | None:
    values = [
        r[0]
        for r in db.execute(
            f"SELECT {expression} AS x FROM jobs WHERE {FILES_DONE} AND x IS NOT NULL ORDER BY x", [since]
        ).fetchall()
    ]
    if not values:
        return None
    middle = len(values) // 2
    return float(values[middle]) if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def figures(db: sqlite_utils.Database, now: float | None = None) -> dict[str, Any]:
    """Every figure of /stats, as numbers (the tests compare them with the jobs they ran)."""
    now = time.time() if now is None else now
    today, week = midnight(now), now - WEEK_DAYS * DAY
    users = db.execute(
        "SELECT count(*), total(joined_at >= ?), total(last_seen_at >= ?), total(last_seen_at >= ?),"
        " total(blocked_bot), total(banned) FROM users",
        [today, now - DAY, week],
    ).fetchone()
    out: dict[str, Any] = {
        "users": int(users[0]),
        "new_today": int(users[1]),
        "active_day": int(users[2]),
        "active_week": int(users[3]),
        "blocked": int(users[4]),
        "banned": int(users[5]),
    }
    for span, since in (("today", today), ("week", week)):
        rows = db.execute(
            f"SELECT coalesce(platform, ?), state, count(*) FROM jobs WHERE {TOP_LEVEL} AND created_at >= ?"
            " GROUP BY 1, 2",
            [UNKNOWN_PLATFORM, since],
        ).fetchall()
        outcomes = {str(state): 0 for state in FINAL} | {"active": 0}
        platforms: dict[str, int] = {}
        for platform, state, count in rows:
            outcomes["active" if state in ACTIVE else state] += count
            platforms[platform] = platforms.get(platform, 0) + count
        out[span] = {"total": sum(platforms.values()), "outcomes": outcomes, "platforms": platforms}
    ended = out["week"]["outcomes"]["done"] + out["week"]["outcomes"]["failed"]
    out["success_pct"] = 100.0 * out["week"]["outcomes"]["done"] / ended if ended else None
    files = db.execute(
        f"SELECT count(*), total(json_extract(meta, '$.download_s') IS NULL) FROM jobs WHERE {FILES_DONE}", [week]
    ).fetchone()
    out["files"], out["cache_hits"] = int(files[0]), int(files[1])
    out["cache_pct"] = 100.0 * files[1] / files[0] if files[0] else None
    out["median_total_s"] = _median(db, "finished_at - created_at", week)
    out["median_download_s"] = _median(db, "json_extract(meta, '$.download_s')", week)
    out["median_upload_s"] = _median(db, "json_extract(meta, '$.upload_s')", week)
    queue = db.execute(
        f"SELECT total(state IN {sql_in(*RUNNING)}), total(state = {sql_is(JobState.QUEUED)}),"
        f" total(state = {sql_is(JobState.CHOOSING)}) FROM jobs WHERE state IN {sql_in(*ACTIVE)}"
    ).fetchone()
    out["running"], out["queued"], out["choosing"] = (int(v) for v in queue)
    out["locks"] = db.execute(
        "SELECT coalesce('@' || username, nullif(title, ''), chat_id), joins_counted FROM sponsors"
        " WHERE active = 1 ORDER BY position, id"
    ).fetchall()
    return out


def _pct(lang: str, value: float | None, none: str) -> str:
    return none if value is None else digits(lang, f"{value:.1f}")


def _secs(lang: str, value: float | None, none: str) -> str:
    if value is None:
        return none
    return digits(lang, f"{value:.2f}" if value < SHORT_S else f"{value:.1f}")


def render(req: Request, f: dict[str, Any]) -> str:
    lang, none = req.lang, req.t("panel_none_yet")

    def span(key: str, figures_of: dict[str, Any]) -> str:
        o = figures_of["outcomes"]
        top = sorted(figures_of["platforms"].items(), key=lambda p: (-p[1], p[0]))[:TOP_PLATFORMS]
        by_platform = " · ".join(f"{html.escape(name)} {digits(lang, n)}" for name, n in top) or none
        return req.t(
            key,
            total=figures_of["total"],
            done=o["done"],
            failed=o["failed"],
            cancelled=o["cancelled"],
            active=o["active"],
            platforms=by_platform,
        )

    locks = " · ".join(f"{html.escape(str(name))} {digits(lang, n)}" for name, n in f["locks"]) or none
    return "\n".join(
        [
            req.t("ap_stats_head"),
            req.t(
                "ap_stats_users",
                users=f["users"],
                new=f["new_today"],
                day=f["active_day"],
                week=f["active_week"],
                blocked=f["blocked"],
                banned=f["banned"],
            ),
            span("ap_stats_today", f["today"]),
            span("ap_stats_week", f["week"]),
            req.t("ap_stats_success", pct=_pct(lang, f["success_pct"], none)),
            req.t(
                "ap_stats_times",
                total=_secs(lang, f["median_total_s"], none),
                download=_secs(lang, f["median_download_s"], none),
                upload=_secs(lang, f["median_upload_s"], none),
            ),
            req.t("ap_stats_cache", pct=_pct(lang, f["cache_pct"], none), hits=f["cache_hits"], files=f["files"]),
            req.t("ap_stats_queue", running=f["running"], queued=f["queued"], choosing=f["choosing"]),
            req.t("ap_stats_locks", locks=locks),
        ]
    )


class StatsAdmin:
    """/stats, with the chart drawer its chart goes to."""

    def __init__(self, charts: Charts | None) -> None:
        self.charts = charts
        self.COMMANDS = {"/stats": admin_only(self.stats)}

    def stats(self, req: Request, msg: IncomingMessage) -> None:
        req.reply(render(req, figures(req.db)))
        if self.charts is None:
            return
        if not self.charts.request(req.chat_id, chart_spec(req.db, req.settings, req.lang)):
            log.warning("admin %s: a chart is already being drawn for too many; none this time", uid(req.user.id))
            req.reply(req.t("ap_chart_busy"))
