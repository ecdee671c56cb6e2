"""Opening the port from a process that must stay up while Telegram is out of reach.

A network outage at boot must not turn into a crash loop (which the supervisor would give up
on): `connect_port` retries with back-off, logging each failed attempt once, until Telegram
answers, or until `stop` is set (the process drains), which raises `NotConnected`. A refusal that
retrying cannot fix (a revoked token, a bad request) is raised, so the process exits and the
supervisor's crash-loop alert reaches the admins.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from core.config import Settings
from core.telegram import open_port
from core.telegram.port import TelegramError, TelegramPort, Transient

log = logging.getLogger(__name__)

CONNECT_RETRY_MIN = 1.0  # seconds before the first retry
CONNECT_RETRY_MAX = 60.0  # the back-off stops growing here


class NotConnected(Exception):
    """The process was asked to stop before Telegram could be reached."""


async def _attempt(settings: Settings, role: str) -> tuple[TelegramPort, TelegramPort] | str | TelegramError:
    """One try: (adapter, entered port), why it failed (worth retrying), or a refusal (not)."""
    adapter = open_port(settings, role=role)
    try:
        return adapter, await adapter.__aenter__()
    except TelegramError as exc:
        if not isinstance(exc, Transient):
            log.error("%s: Telegram refused to start us: %s", role, exc)
            return exc
        return str(exc)
    except Exception as exc:  # a broken link makes the MTProto library fail in many ways
        return f"{type(exc).__name__}: {exc}"


@asynccontextmanager
async def connect_port(settings: Settings, *, role: str, stop: trio.Event) -> AsyncIterator[TelegramPort]:
    delay, attempt = CONNECT_RETRY_MIN, 1
    opened: tuple[TelegramPort, TelegramPort] | None = None
    refusal: TelegramError | None = None
    async with trio.open_nursery() as nursery:

        async def watch_stop() -> None:
            await stop.wait()
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_stop)
        while True:
            result = await _attempt(settings, role)
            if isinstance(result, TelegramError):
                refusal = result
                break
            if not isinstance(result, str):
                opened = result
                break
            log.warning("%s: cannot reach Telegram (attempt %d: %s); retrying in %.0fs", role, attempt, result, delay)
            await trio.sleep(delay)
            delay, attempt = min(delay * 2, CONNECT_RETRY_MAX), attempt + 1
        nursery.cancel_scope.cancel()
    if refusal is not None:
        raise refusal
    if opened is None:
        raise NotConnected(f"{role} stopped before reaching Telegram")
    if attempt > 1:
        log.info("%s: reached Telegram after %d attempts", role, attempt)
    adapter, port = opened
    try:
        yield port
    finally:
        await adapter.__aexit__(None, None, None)
