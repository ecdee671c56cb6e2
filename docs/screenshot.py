"""Regenerate docs/sandbox-chat.png, the README's picture: the whole bot against its sandbox
(`run.py --sandbox`), a Persian user in the sandbox's web chat sends the sample video's link,
picks a quality, and the video arrives; Debian's chromium (driven by Playwright) takes the picture.

    .venv/bin/python docs/screenshot.py        # or: make screenshot
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "sandbox-chat.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
READY_S = 180.0
UI_TIMEOUT_MS = 120_000
WIDTH, HEIGHT = 1180, 820
USER_ID, USER_NAME = 1001, "سارا"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bot(folder: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(ROOT / "run.py"), "--sandbox", "--workers", "1", "--sandbox-port", str(port)]
    argv += ["--data-dir", str(folder / "data"), "--monitor-port", str(free_port())]
    log = (folder / "bot.log").open("wb")
    bot = subprocess.Popen(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if bot.poll() is not None or "ready:" in (folder / "bot.log").read_text(errors="replace"):
            break
        time.sleep(0.2)
    if bot.poll() is not None or "ready:" not in (folder / "bot.log").read_text(errors="replace"):
        stop(bot)
        raise SystemExit(f"the bot did not start; see {folder / 'bot.log'}")
    return bot


def stop(bot: subprocess.Popen[bytes]) -> None:
    if bot.poll() is None:
        os.killpg(bot.pid, signal.SIGTERM)
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(bot.pid, signal.SIGKILL)
            bot.wait()


def shoot(url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="fa-IR").new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            page.goto(url + "/")
            page.get_by_test_id("user-id").fill(str(USER_ID))
            page.get_by_test_id("user-name").fill(USER_NAME)
            page.get_by_test_id("user-lang").select_option("fa")
            page.get_by_test_id("user-apply").click()
            page.locator(f'[data-testid="sample-link"][data-url="{url}/media/sample.mp4"]').click()
            video_button = "🎬"  # the offer's video qualities (core/texts: button_video)
            page.locator('[data-testid="kb-button"][data-kind="callback"]', has_text=video_button).first.click()
            video = page.get_by_test_id("media-video").first
            expect(video).to_be_visible()
            loaded = "v => new Promise(done => v.readyState >= 2 ? done() : v.addEventListener('loadeddata', done))"
            video.evaluate(loaded)  # its first frame shows
            video.scroll_into_view_if_needed()
            expect(page.get_by_test_id("toast")).to_have_count(0)  # the callback's answer fades first
            page.screenshot(path=str(OUT))
        finally:
            browser.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="screenshot-") as folder:
        port = free_port()
        bot = start_bot(Path(folder), port)
        try:
            shoot(f"http://127.0.0.1:{port}")
        finally:
            stop(bot)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
