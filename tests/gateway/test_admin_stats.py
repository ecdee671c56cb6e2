"""/stats and its chart, against a real SQLite file: every figure from the rows (so a restart
changes none), in English and Persian; the chart's numbers and labels; the drawing process makes
a valid PNG with Persian shaped right to left; the gateway's side sends it as a photo and removes
nothing it should keep; a chart that cannot be drawn is said so, and the figures still go out."""

from __future__ import annotations

import datetime
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from core.config import load_settings
from gateway.admin import stats
from gateway.admin.chart import DAYS, Charts, chart_spec, jalali
from tests.gateway.adminkit import NOT_ADMIN, AdminWorld
from tests.gateway.gatekit import ADMIN

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world(tmp_path):
    w = AdminWorld(tmp_path)
    yield w
    w.close()


def job(world: AdminWorld, user: int, state: str, platform: str | None, *, created: float, **meta: float) -> int:
    job_id = world.add_job(user, state, at=created)
    finished = created + 10 if state in ("done", "failed", "cancelled") else None
    world.db.execute(
        "UPDATE jobs SET platform = ?, finished_at = ?, meta = ? WHERE id = ?",
        [platform, finished, json.dumps(meta) if meta else None, job_id],
    )
    return job_id


def fill(world: AdminWorld) -> None:
    now = time.time()
    today = stats.midnight(now) + 1
    three_days_ago = now - 3 * 86400
    for user in (1, 2, 3, 4):
        world.add_job(user, "cancelled", at=now - 30 * 86400)  # a month ago: in no figure
    world.db.execute("UPDATE users SET last_seen_at = ? WHERE id = 1", [now - 2 * 86400])
    world.db.execute("UPDATE users SET last_seen_at = ?, joined_at = ? WHERE id IN (2, 3, 4)", [now - 100, now - 100])
    world.db.execute("UPDATE users SET blocked_bot = 1 WHERE id = 2")
    world.db.execute("UPDATE users SET banned = 1 WHERE id = 3")
    job(world, 1, "done", "Youtube", created=today, download_s=2.0, upload_s=1.0)
    job(world, 1, "done", "Youtube", created=today)  # from the cache: no download
    job(world, 2, "done", "Instagram", created=today, download_s=4.0, upload_s=3.0)
    job(world, 2, "failed", "Youtube", created=today)
    job(world, 3, "cancelled", None, created=today)
    job(world, 3, "downloading", "TikTok", created=today)
    job(world, 4, "queued", None, created=today)
    job(world, 4, "choosing", "Youtube", created=today)
    job(world, 4, "done", "Vimeo", created=three_days_ago, download_s=6.0, upload_s=5.0)
    job(world, 4, "failed", "Vimeo", created=three_days_ago)


def test_the_figures_count_the_rows(world):
    fill(world)
    f = stats.figures(world.db)
    assert (f["users"], f["new_today"], f["active_day"], f["active_week"], f["blocked"], f["banned"]) == (
        4, 3, 3, 4, 1, 1
    )  # fmt: skip
    assert f["today"]["total"] == 8
    assert f["today"]["outcomes"] == {"done": 3, "failed": 1, "cancelled": 1, "active": 3}
    assert f["today"]["platforms"] == {"Youtube": 4, "Instagram": 1, "?": 2, "TikTok": 1}
    assert f["week"]["total"] == 10 and f["week"]["outcomes"]["done"] == 4 and f["week"]["platforms"]["Vimeo"] == 2
    assert f["success_pct"] == pytest.approx(100 * 4 / 6)
    assert (f["files"], f["cache_hits"], f["cache_pct"]) == (4, 1, 25.0)
    assert f["median_total_s"] == 10.0
    assert (f["median_download_s"], f["median_upload_s"]) == (4.0, 3.0)
    assert (f["running"], f["queued"], f["choosing"]) == (1, 1, 1)


async def test_stats_says_them_in_the_admins_language_and_refuses_anyone_else(world):
    fill(world)
    lock = await world.add_lock("@chan_x")
    world.db.execute("UPDATE sponsors SET joins_counted = 12 WHERE id = ?", [lock])
    await world.say(ADMIN, "/stats")
    shown = world.last(ADMIN)["text"]
    assert "Users: 5 · new today 4 · active in 24 h 4 · in 7 days 5 · blocked the bot 1 · banned 1" in shown
    assert "Jobs today: 8 · done 3 · failed 1 · cancelled 1 · unfinished 3" in shown
    assert "by platform: Youtube 4 · ? 2 · Instagram 1 · TikTok 1" in shown
    assert "Jobs in 7 days: 10 · done 4 · failed 2" in shown
    assert "Success rate (7 days, done of done and failed): 66.7 %" in shown
    assert "link to file 10.0 s · download 4.00 s · upload 3.00 s" in shown
    assert "Cache hit rate (7 days): 25.0 % (1 of 4 files" in shown
    assert "Queue now: running 1 · waiting 1 · choosing 1" in shown
    assert "Joins per lock: @chan_x 12" in shown
    await world.say(ADMIN, "/stats", lang="fa")
    await world.say(5050, "/start", lang="fa")
    world.db.execute("UPDATE users SET language = 'fa' WHERE id = ?", [ADMIN])
    await world.say(ADMIN, "/stats", lang="fa")
    persian = world.last(ADMIN)["text"]
    assert "کارهای امروز: ۸ · انجام‌شده ۳" in persian and "۶۶٫۷ ٪" in persian
    await world.say(NOT_ADMIN, "/stats")
    assert world.audit()[-1] == (NOT_ADMIN, "denied", "/stats")


def test_the_chart_counts_jobs_per_day_by_platform_with_labels_in_the_language(world):
    today = datetime.date.today()
    noon = datetime.datetime.combine(today, datetime.time(12)).timestamp()
    for platform, count in (("Youtube", 3), ("Instagram", 2), ("A", 1), ("B", 1), ("C", 1), ("D", 1), ("E", 1)):
        for _ in range(count):
            job(world, 1, "done", platform, created=noon)
    job(world, 1, "done", None, created=noon - 86400)
    job(world, 1, "done", "Youtube", created=noon - DAYS * 86400)  # before the window
    spec = chart_spec(world.db, world.settings, "fa", today)
    assert spec["rtl"] and spec["title"] == "کارها در هر روز، ۱۴ روز گذشته"
    _, month, day = jalali(today)
    assert spec["days"][-1] == f"{month}/{day}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    names = [s["name"] for s in spec["series"]]
    assert names == ["Youtube", "Instagram", "نامشخص", "A", "B", "سایر"]  # by count, then name ("?" first)
    assert [s["values"][-1] for s in spec["series"]] == [3, 2, 0, 1, 1, 3]  # C, D and E: other
    assert sum(s["values"][-2] for s in spec["series"]) == 1
    english = chart_spec(world.db, world.settings, "en", today)
    assert english["days"][-1] == today.strftime("%b %-d") and not english["rtl"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_the_drawing_process_makes_a_png_and_shapes_persian(world, tmp_path, lang):
    job(world, 1, "done", "Youtube", created=time.time())
    spec = chart_spec(world.db, world.settings, lang)
    out = tmp_path / f"{lang}.png"
    done = subprocess.run(
        [sys.executable, "-m", "gateway.admin.draw_chart", str(out)], input=json.dumps(spec).encode(), check=False
    )
    assert done.returncode == 0
    assert png_size(out.read_bytes()) == (1000, 560)


def test_persian_is_joined_and_right_to_left_in_the_drawing():
    """With the chart's font and layout a Persian word is joined (narrower than its loose
    letters), and its first letter is drawn at the right: in "اب" the tall alef is right of the
    short beh."""
    from PIL import Image, ImageDraw, ImageFont, features

    assert features.check("raqm"), "Pillow's Raqm layout (libfribidi0) is needed for Persian"
    path = str(load_settings(environ={}, env_file=None).chart_font)
    font = ImageFont.truetype(path, 40, layout_engine=ImageFont.Layout.RAQM)
    loose = ImageFont.truetype(path, 40, layout_engine=ImageFont.Layout.BASIC)
    assert font.getlength("بیش", direction="rtl") < loose.getlength("بیش")

    def alef_at_the_right(used: ImageFont.FreeTypeFont) -> bool:
        image = Image.new("L", (200, 80), 0)
        ImageDraw.Draw(image).text((10, 10), "اب", font=used, fill=255, direction="rtl" if used is font else None)
        _, top, _, _ = image.getbbox() or (0, 0, 0, 0)
        ink = [x for x in range(200) if any(image.getpixel((x, y)) for y in range(80))]
        tall = [x for x in ink if any(image.getpixel((x, y)) for y in range(top, top + 8))]
        return bool(tall) and sum(tall) / len(tall) > sum(ink) / len(ink)

    assert alef_at_the_right(font)
    assert not alef_at_the_right(loose)  # what the chart would show without Raqm: the measure tells


async def test_the_gateway_sends_the_chart_as_a_photo_and_says_so_when_it_cannot(world, tmp_path):
    job(world, 1, "done", "Youtube", created=time.time())
    announced: list[int] = []
    charts = Charts(world.settings, world.db, announced.extend)
    good = chart_spec(world.db, world.settings, "en")
    bad = {**good, "font": str(tmp_path / "no-such-font.ttf")}
    assert charts.request(ADMIN, good) and charts.request(ADMIN, bad)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(charts.run)
        with trio.fail_after(60):
            while len(announced) < 2:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    rows = world.db.execute("SELECT kind, payload FROM outbox WHERE id IN (?, ?) ORDER BY id", announced).fetchall()
    photo, failed = json.loads(rows[0][1]), json.loads(rows[1][1])
    assert rows[0][0] == "media" and photo["kind"] == "photo"
    drawn, folder = Path(photo["path"]), Path(photo["spool_dir"])
    assert png_size(drawn.read_bytes()) == (1000, 560)  # noqa: ASYNC240 (a test's check, after the run)
    assert folder == drawn.parent and folder.parent == world.settings.spool_dir
    assert rows[1][0] == "text" and "could not be drawn" in failed["text"]
    assert len(list(world.settings.spool_dir.iterdir())) == 1


def test_too_many_charts_at_once_are_refused_not_queued_without_end(world):
    charts = Charts(world.settings, world.db, lambda items: None)
    spec = chart_spec(world.db, world.settings, "en")
    accepted = [charts.request(ADMIN, spec) for _ in range(10)]
    assert accepted == [True] * 4 + [False] * 6
