"""connect_port: retries what a broken link throws, gives up only when told to stop or refused."""

from __future__ import annotations

import logging

import pytest
import trio

import core.telegram.connect as connect
from core.config import load_settings
from core.telegram.port import BadRequest, Transient

SETTINGS = load_settings(environ={"BOT_TOKEN": "1:abcdefg", "TELEGRAM_BACKEND": "botapi"}, env_file=None)


class FlakyAdapter:
    """Fails to open with the scripted errors, then opens; records opens and closes."""

    def __init__(self, script: list[BaseException], log: list[str]) -> None:
        self.script, self.log = script, log

    async def __aenter__(self) -> FlakyAdapter:
        self.log.append("open")
        if self.script:
            raise self.script.pop(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("close")


@pytest.fixture
def adapters(monkeypatch):
    log: list[str] = []
    script: list[BaseException] = []
    monkeypatch.setattr(connect, "open_port", lambda settings, role: FlakyAdapter(script, log))
    return script, log


async def test_retries_with_backoff_until_telegram_answers(adapters, caplog, autojump_clock):
    script, log = adapters
    script += [KeyError(0), Transient("connection refused"), OSError("no route")]
    caplog.set_level(logging.WARNING)
    start = trio.current_time()
    async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()) as port:
        assert isinstance(port, FlakyAdapter)
        waited = trio.current_time() - start
    assert log == ["open"] * 4 + ["close"]
    assert waited == pytest.approx(1 + 2 + 4)  # doubling back-off
    warnings = [r.getMessage() for r in caplog.records if "cannot reach Telegram" in r.getMessage()]
    assert len(warnings) == 3 and "KeyError" in warnings[0] and "attempt 3" in warnings[2]


async def test_a_refusal_that_retrying_cannot_fix_is_raised(adapters):
    script, _ = adapters
    script.append(BadRequest("ACCESS_TOKEN_INVALID"))
    with pytest.raises(BadRequest):
        async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()):
            pytest.fail("must not open")


async def test_draining_while_unreachable_ends_with_not_connected(adapters, autojump_clock):
    script, log = adapters
    script += [OSError("down")] * 100
    stop = trio.Event()
    async with trio.open_nursery() as nursery:

        async def drain_later() -> None:
            await trio.sleep(30)
            stop.set()

        nursery.start_soon(drain_later)
        with pytest.raises(connect.NotConnected):
            async with connect.connect_port(SETTINGS, role="uploader", stop=stop):
                pytest.fail("must not open")
        assert trio.current_time() == pytest.approx(30)
    assert "close" not in log
