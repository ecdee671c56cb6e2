"""Keeping yt-dlp current, offline: the bot runs from a Python environment of its own (a venv that
sees the shared packages, with yt-dlp installed inside it), and upgrades between wheels this test
builds from the installed yt-dlp: a good newer one, a broken newer one (rolled back), from Telegram
(/ytdlp update) and from a shell (run.py update-ytdlp); the check probes the sandbox's sample link.
A download running during the update is handed back by its draining downloader and still arrives."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from core.texts import text
from core.ytdlp import installed_version
from core.ytdlp_update import freeze_wheel
from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.paths import ROOT
from tests.support.poll import until

ADMIN = 63_001
users = itertools.count(63_100)
CURRENT = installed_version() or "0"
GOOD, BROKEN, LATER = f"{CURRENT}.post1", f"{CURRENT}.post2", f"{CURRENT}.post3"
PIP_TIMEOUT_S = 300


def bump(wheel: Path, version: str, dest: Path, *, broken: bool = False) -> Path:
    """A copy of `wheel` (yt-dlp) that says it is `version`; `broken` fails on import."""
    old_info = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA")).split("/")[0]
    new_info = f"yt_dlp-{version}.dist-info"
    out = dest / f"yt_dlp-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name.endswith("/RECORD"):
                continue
            data = src.read(name)
            if name == f"{old_info}/METADATA":
                data = re.sub(rb"(?m)^Version: .*$", f"Version: {version}".encode(), data)
            if name == "yt_dlp/version.py":
                data = re.sub(rb"__version__ = '[^']*'", f"__version__ = '{version}'".encode(), data)
                if broken:
                    data += b"\nraise ImportError('a broken yt-dlp release')\n"
            name = name.replace(old_info, new_info)
            dst.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        dst.writestr(f"{new_info}/RECORD", "\n".join([*record, f"{new_info}/RECORD,,"]) + "\n")
    return out


def venv_version(python: Path) -> str:
    probe = "import importlib.metadata as m; print(m.version('yt-dlp'))"
    return subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A venv seeing the shared packages (a .pth) with yt-dlp CURRENT installed inside, and the
    folders of wheels: `current` (to install), `source` (what an upgrade finds)."""
    root = tmp_path_factory.mktemp("ytdlp-env")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    own = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    (own / "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (root / "venv" / "bin" / "deno").symlink_to(Path(sysconfig.get_paths()["scripts"]) / "deno")  # as pip would put it
    current, source = root / "current", root / "source"
    source.mkdir()
    wheel = freeze_wheel("yt-dlp", current)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--ignore-installed", "--no-index", "--no-deps"]
    pip += ["--find-links", str(current)]
    subprocess.run([*pip, f"yt-dlp=={CURRENT}"], check=True, timeout=PIP_TIMEOUT_S)
    assert venv_version(python) == CURRENT and own in Path(
        subprocess.run([python, "-c", "import yt_dlp; print(yt_dlp.__file__)"], capture_output=True, text=True,
                       check=True).stdout.strip()).parents  # fmt: skip
    bump(wheel, GOOD, source)
    yield {"python": python, "wheel": wheel, "source": source, "root": root}


@pytest.fixture(scope="module")
def bot(env: dict[str, Path]) -> Iterator[BotProcess]:
    extra = {
        "ADMIN_IDS": str(ADMIN),
        "YTDLP_UPGRADE_SOURCE": f"--no-index --find-links {env['source']}",
        "SHUTDOWN_GRACE": "20",
    }
    folder = env["root"] / "bot"
    folder.mkdir()
    process = BotProcess(folder, env=extra, workers=2, python=str(env["python"]))
    try:
        yield process
    finally:
        process.stop()


def downloader_pids(bot: BotProcess) -> dict[str, int]:
    return {name: p["pid"] for name, p in bot.processes().items() if name.startswith("downloader-")}


def runs(bot: BotProcess, name: str, version: str) -> bool:
    log = bot.data_dir / "logs" / f"{name}.log"
    return log.exists() and f"{name} runs yt-dlp {version}" in log.read_text()


async def test_ytdlp_shows_the_version_and_its_age(bot, env):
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        admin = Chat(http, ADMIN, bot)
        await admin.say("/ytdlp")
        answer = await admin.wait_text(f"yt-dlp {venv_version(env['python'])}, released ")
        assert " ago)" in answer["text"] and "/ytdlp update" in answer["text"]
        stranger = Chat(http, next(users), bot)
        await stranger.say("/ytdlp update")
        await stranger.wait_text(text("en", "admin_only"))


@pytest.mark.timeout(900)  # three upgrades with pip, each checked, and a download that starts over
async def test_updates_a_good_one_a_broken_one_and_one_from_a_shell(bot, env):
    """In this order (each step starts from the version the one before left): a good update from
    Telegram during a download, a broken one rolled back, a good one asked from a shell."""
    await an_update_checks_then_restarts_the_downloaders_one_by_one_and_loses_no_job(bot, env)
    await a_version_that_fails_the_check_is_rolled_back_and_nothing_restarts(bot, env)
    await trio.to_thread.run_sync(update_ytdlp_from_a_shell_asks_the_running_bot, bot, env)


async def an_update_checks_then_restarts_the_downloaders_one_by_one_and_loses_no_job(bot, env):
    before = downloader_pids(bot)
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        user = Chat(http, next(users), bot)
        await user.say("/settings")  # "best" by default: the download starts without a question
        menu = await user.wait_text("Your settings")
        await user.press(menu["message_id"], button(menu, text("en", "format_best"))["callback_data"])
        await until("best to be the default", lambda: _best_checked(user, menu["message_id"]), 30)
        await user.say(
            f"{bot.url}/media/slow?rate=60000&size=2400000&k=during-update"
        )  # 40 s: under way at the restart
        await until("a downloader to hold the slow download", lambda: _held(bot, user.user_id), 60)
        admin = Chat(http, ADMIN, bot)
        await admin.say("/ytdlp update")
        await admin.wait_text(text("en", "ytdlp_update_started"))
        done = await admin.wait_text(f"yt-dlp updated: {CURRENT} → {GOOD}", timeout=300)
        assert "downloader-1, downloader-2" in done["text"]
        await user.wait_files(1, timeout=240)  # handed back by the draining downloader, done by another
    assert any("handed back by downloader-" in line for line in bot.log_lines())  # the gateway took it back
    after = downloader_pids(bot)
    assert set(after) == set(before) and all(after[n] != before[n] for n in before), (before, after)
    assert venv_version(env["python"]) == GOOD
    for name in before:
        assert runs(bot, name, GOOD), name


async def _best_checked(user: Chat, message_id: int) -> bool:
    best = text("en", "format_best")
    menus = [m for m in await user.bot_messages() if m["message_id"] == message_id]
    return any(b["text"] == "✓ " + best for m in menus for b in buttons(m))


async def _held(bot: BotProcess, user_id: int) -> str | None:
    db = sqlite3.connect(bot.data_dir / "bot.sqlite3", timeout=10)
    try:
        row = db.execute(
            "SELECT worker FROM jobs WHERE user_id = ? AND state IN ('probing', 'downloading')", [user_id]
        ).fetchone()
    finally:
        db.close()
    return row[0] if row else None


async def a_version_that_fails_the_check_is_rolled_back_and_nothing_restarts(bot, env):
    bump(env["wheel"], BROKEN, env["source"], broken=True)
    before = downloader_pids(bot)
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        admin = Chat(http, ADMIN, bot)
        await admin.say("/ytdlp update")
        failed = await admin.wait_text("yt-dlp was not updated", timeout=300)
        assert f"{BROKEN} failed the check" in failed["text"] and f"rolled back to {GOOD}" in failed["text"]
    assert downloader_pids(bot) == before
    assert venv_version(env["python"]) == GOOD
    (env["source"] / f"yt_dlp-{BROKEN}-py3-none-any.whl").unlink()


def update_ytdlp_from_a_shell_asks_the_running_bot(bot, env):
    bump(env["wheel"], LATER, env["source"])
    before = downloader_pids(bot)
    argv = [str(env["python"]), str(ROOT / "run.py"), "update-ytdlp", "--sandbox", "--data-dir", str(bot.data_dir)]
    done = subprocess.run(argv, cwd=bot.folder, capture_output=True, text=True, timeout=600, env=os.environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"yt-dlp {GOOD} -> {LATER}: checked on " in done.stdout
    assert "restarted downloader-1, downloader-2" in done.stdout
    after = downloader_pids(bot)
    assert all(after[n] != before[n] for n in before)
    assert venv_version(env["python"]) == LATER
