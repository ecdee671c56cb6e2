"""`python run.py update-ytdlp`: the same as an admin's /ytdlp update, from a shell.

With a bot running on this DATA_DIR (its supervisor holds run/supervisor.lock), the supervisor is
asked, exactly as the gateway asks it, and this command waits for the result. Without one, the
upgrade and its check run here, and the next start uses the new version. Exit status 0 when the
environment ends with a working yt-dlp (updated, already current), 1 when the update failed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable

import trio

from core import ytdlp_update
from core.child import endpoints_for
from core.config import Settings
from ipc.channels import ControlClient
from ipc.messages import UpdateStatus, UpdateYtdlp

ANSWER_TIMEOUT_S = 5.0  # for "started": a running supervisor answers at once
RESULT_TIMEOUT_S = 3600.0  # pip, the check, and every downloader's drain and restart


def main(settings: Settings, echo: Callable[[str], None] = print) -> int:
    lock_path = settings.run_lock_path
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return trio.run(_ask_supervisor, settings, echo)
        echo("no bot is running on this DATA_DIR: updating here; the next start uses the result")
        outcome = trio.run(ytdlp_update.upgrade, settings)
    echo(f"yt-dlp {outcome.old} -> {outcome.new}: {outcome.detail}")
    return 0 if outcome.ok else 1


async def _ask_supervisor(settings: Settings, echo: Callable[[str], None]) -> int:
    control_endpoint = endpoints_for(settings).control
    with ControlClient(f"update-ytdlp-{os.getpid()}", control_endpoint) as control:
        await control.send(UpdateYtdlp(req_id=os.getpid()))
        started = await _next_status(control, ANSWER_TIMEOUT_S)
        if started is None:
            echo("the running bot's supervisor did not answer")
            return 1
        if started.state == "busy":
            echo("an update is already running (asked from Telegram?); its result goes to the admins")
            return 1
        echo("the running bot is updating yt-dlp: checking the new version, then restarting the downloaders")
        done = await _next_status(control, RESULT_TIMEOUT_S)
    if done is None:
        echo(f"no result within {RESULT_TIMEOUT_S:.0f} s; see the supervisor's log")
        return 1
    echo(f"yt-dlp {done.old_version} -> {done.new_version}: {done.detail}")
    return 0 if done.state == "done" else 1


async def _next_status(control: ControlClient, timeout: float) -> UpdateStatus | None:
    with trio.move_on_after(timeout):
        while True:
            msg = await control.recv()
            if isinstance(msg, UpdateStatus):
                return msg
    return None
