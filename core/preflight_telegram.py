"""The preflight's checks against Telegram: the token (getMe), each admin, each sponsor lock.

They go through the same port and adapter the bot uses (`TELEGRAM_BACKEND`), so a proxy or a
self-hosted Bot API server is checked as the bot will use it. In sandbox mode Telegram is the
sandbox: the one listening on SANDBOX_PORT when there is one (a running `--sandbox` bot's, whose
users and channels are then checked), else one started for the check and stopped after it.

An admin "can be reached" when Telegram lets the bot see the admin's private chat with it, i.e.
the admin has started the bot; otherwise the alerts meant for them go nowhere. A sponsor lock
works when the bot sees the channel and is an administrator there (Telegram shows a channel's
members only to its administrators).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from core.config import Settings
from core.preflight import Finding, error, ok, warning
from core.telegram import ChatNotFound, TelegramError, TelegramPort, open_port

TELEGRAM_TIMEOUT_S = 30.0  # for the whole Telegram part; a slower Telegram is an error of its own
SANDBOX_START_TIMEOUT_S = 120.0  # a first start makes the sample media with ffmpeg
SANDBOX_STOP_TIMEOUT_S = 10.0
SANDBOX_READY_PREFIX = "SANDBOX_READY "  # what `python -m sandbox` prints once it listens
ADMIN_STATUSES = ("creator", "administrator")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def findings(settings: Settings) -> list[Finding]:
    return trio.run(_findings, settings)


async def _findings(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    async with _telegram(settings, found):
        if found and found[-1].level == "error":
            return found
        with trio.move_on_after(TELEGRAM_TIMEOUT_S) as scope:
            try:
                async with open_port(settings, role="preflight") as port:
                    await _check(settings, port, found)
            except TelegramError as exc:
                found.append(error("telegram", f"{type(exc).__name__}: {exc}"))
            except Exception as exc:  # the MTProto library fails in many ways; a preflight reports them all
                found.append(error("telegram", f"cannot reach Telegram: {type(exc).__name__}: {exc}"))
        if scope.cancelled_caught:
            found.append(error("telegram", f"no answer within {TELEGRAM_TIMEOUT_S:.0f} s"))
    return found


async def _check(settings: Settings, port: TelegramPort, found: list[Finding]) -> None:
    me = await port.get_me()
    where = "the sandbox" if settings.sandbox else settings.telegram_backend
    found.append(ok("telegram", f"token valid: @{me.username} (id {me.id}) through {where}"))
    found.extend([x async for x in _admins(settings, port)])
    found.extend([x async for x in _locks(settings, port, me.id)])


async def _admins(settings: Settings, port: TelegramPort) -> AsyncIterator[Finding]:
    if not settings.admin_ids:
        yield warning("admins", "ADMIN_IDS is empty: nobody gets alerts or the admin commands")
    for admin in settings.admin_ids:
        try:
            await port.get_chat_member(admin, admin)
        except ChatNotFound:
            yield error(f"admin {admin}", "cannot be reached: they must open the bot and press Start once")
            continue
        except TelegramError as exc:
            yield error(f"admin {admin}", f"cannot be reached: {exc}")
            continue
        yield ok(f"admin {admin}", "can be reached")


async def _locks(settings: Settings, port: TelegramPort, bot_id: int) -> AsyncIterator[Finding]:
    from core.db import open_db
    from gateway.locks import load_active

    db = open_db(settings.db_path, busy_timeout=settings.db_busy_timeout)
    try:
        locks = load_active(db)
    finally:
        db.close()
    if not locks:
        yield ok("sponsor locks", "none active")
    for lock in locks:
        name = f"sponsor lock {lock.name}"
        try:
            status = await port.get_chat_member(lock.ref, bot_id)
        except ChatNotFound:
            yield error(name, "the bot cannot see this chat: add it there as an administrator")
            continue
        except TelegramError as exc:
            yield error(name, f"cannot be checked: {exc}")
            continue
        if status in ADMIN_STATUSES:
            yield ok(name, f"visible, the bot is {status}")
        else:
            yield error(name, f"the bot is {status} there, not an administrator: it cannot see who joined")


@asynccontextmanager
async def _telegram(settings: Settings, found: list[Finding]) -> AsyncIterator[None]:
    """Nothing to do for the real Telegram; in sandbox mode, a sandbox to talk to."""
    if not settings.sandbox:
        yield
        return
    if await _answers(settings.botapi_url):
        found.append(ok("sandbox", f"using the one running at {settings.botapi_url}"))
        yield
        return
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "sandbox", "--port", str(settings.sandbox_port), "--data-dir", str(settings.data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        url = await _ready_line(process)
        if url is None:
            found.append(error("sandbox", f"did not start on port {settings.sandbox_port}"))
        else:
            found.append(ok("sandbox", f"started one for the check at {url}"))
        yield
    finally:
        with trio.CancelScope(shield=True):
            process.terminate()
            with trio.move_on_after(SANDBOX_STOP_TIMEOUT_S):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _ready_line(process: trio.Process) -> str | None:
    assert process.stdout is not None
    seen = b""
    with trio.move_on_after(SANDBOX_START_TIMEOUT_S):
        async for chunk in process.stdout:
            seen += chunk
            for line in seen.decode(errors="replace").splitlines():
                if line.startswith(SANDBOX_READY_PREFIX):
                    return line[len(SANDBOX_READY_PREFIX) :].strip()
    return None


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
            response = await http.get(f"{url}/sandbox/stats")
    except httpx.HTTPError:
        return False
    return response.status_code == 200
