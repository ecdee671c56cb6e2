"""No secret reaches a log: the bot runs journeys that touch every secret it holds (the token on
every call, a cookie file used and then set aside, the api hash and a Premium session string in
its settings), at debug level, then every log it wrote is searched for them, and for the ids of
the users it served (logged only as a salted hash)."""

from __future__ import annotations

import os

import httpx

from tests.support.bot import BotProcess, Chat, buttons
from tests.support.logs import KNOWN_SECRETS, leaks, log_files

API_HASH = "0123456789abcdef0123456789abcdef"
PREMIUM_SESSION = "BQAxSecretPremiumSessionString-e2e-test"
COOKIE_VALUE = "c00kie-value-in-the-link"  # the link names it (the sandbox's route checks it): not a secret here
SECRET_COOKIE = "c00kie-secret-value-e2e"  # only in the file, sent along with the other
ADMIN = 7_319_264_851  # ids as long as Telegram's: no pid or timestamp spells them by chance
USER = 7_319_264_852


async def test_no_secret_in_any_log_of_a_busy_run(tmp_path):
    env = {"API_HASH": API_HASH, "API_ID": "12345", "PREMIUM_SESSION": PREMIUM_SESSION, "LOG_LEVEL": "debug"}
    bot = BotProcess(tmp_path, env={**env, "ADMIN_IDS": str(ADMIN)}, workers=1)
    try:
        cookies = bot.data_dir / "cookies"
        cookies.mkdir(exist_ok=True)
        jar = cookies / "generic.txt"
        jar.write_text(
            "# Netscape HTTP Cookie File\n"
            f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\t{COOKIE_VALUE}\n"
            f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t{SECRET_COOKIE}\n"
        )
        os.chmod(jar, 0o600)
        async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
            admin = Chat(http, ADMIN, bot)
            await admin.say("/start")
            user = Chat(http, USER, bot)
            await user.say(f"{bot.url}/media/cookie?name=session&value={COOKIE_VALUE}&k=ok")
            offer = await user.wait_buttons()
            await user.press(offer["message_id"], buttons(offer)[0]["callback_data"])
            await user.wait_files(1, timeout=90)
            await user.say(f"{bot.url}/media/cookie?name=other&value={COOKIE_VALUE}&k=wall")  # a login wall
            await admin.wait_text("generic.txt", timeout=90)  # the file is set aside and the admins told
    finally:
        bot.stop()
    written = log_files(tmp_path)
    assert any(p.parent.name == "logs" for p in written) and any(p.name == "bot.log" for p in written), written
    assert any("job=" in p.read_text() for p in written)  # a busy run indeed: jobs were logged
    assert leaks(tmp_path, [*KNOWN_SECRETS, API_HASH, PREMIUM_SESSION, SECRET_COOKIE, str(ADMIN), str(USER)]) == []
