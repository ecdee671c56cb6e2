"""connect_port: waits out network trouble and FloodWaits, gives up only when told to stop or
refused, and lets a programming error crash the process at once."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import trio

import core.telegram.connect as connect
from core.config import load_settings
from core.telegram.port import BadRequest, FloodWait, Transient

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


async def test_retries_with_backoff_until_telegram_answers(adapters, caplog, autojump_clock, monkeypatch):
    script, log = adapters
    monkeypatch.setattr(connect, "CONNECT_BACKOFF", dataclasses.replace(connect.CONNECT_BACKOFF, jitter=0.0))
    script += [Transient("connection refused"), Transient("OSError: no route"), Transient("timed out")]
    caplog.set_level(logging.WARNING)
    start = trio.current_time()
    async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()) as port:
        assert isinstance(port, FlakyAdapter)
        waited = trio.current_time() - start
    assert log == ["open"] * 4 + ["close"]
    assert waited == pytest.approx(1 + 2 + 4)  # doubling back-off
    warnings = [r.getMessage() for r in caplog.records if "cannot reach Telegram" in r.getMessage()]
    assert len(warnings) == 3 and "connection refused" in warnings[0] and "attempt 3" in warnings[2]


async def test_the_backoff_is_jittered_and_capped_at_a_minute(adapters, autojump_clock):
    script, _ = adapters
    script += [Transient("down")] * 12
    start = trio.current_time()
    async with connect.connect_port(SETTINGS, role="uploader", stop=trio.Event()):
        waited = trio.current_time() - start
    raw = sum(min(2.0**n, 60.0) for n in range(12))  # 1, 2, ... 32, then 60 s each
    assert raw * 0.8 <= waited <= raw * 1.2 and waited != raw


async def test_a_flood_wait_at_login_is_waited_out_exactly(adapters, autojump_clock):
    script, log = adapters
    script.append(FloodWait(42.0))
    start = trio.current_time()
    async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()):
        assert trio.current_time() - start == pytest.approx(42.0)
    assert log == ["open", "open", "close"]


@pytest.mark.parametrize("bug", [KeyError("me"), AttributeError("'NoneType' has no attribute 'id'"), OSError(13)])
async def test_a_programming_error_crashes_at_once(adapters, bug, autojump_clock, caplog):
    """Only the port's own errors are Telegram's doing; anything else is raised as it came (a
    PermissionError on the session folder too), so the process exits and is restarted."""
    script, log = adapters
    script.append(bug)
    start = trio.current_time()
    with pytest.raises(type(bug)) as raised:
        async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()):
            pytest.fail("must not open")
    assert raised.value is bug
    assert trio.current_time() == start and log == ["open"]  # no retry, no wait
    assert not [r for r in caplog.records if "cannot reach Telegram" in r.getMessage()]


async def test_a_refusal_that_retrying_cannot_fix_is_raised(adapters):
    script, _ = adapters
    script.append(BadRequest("ACCESS_TOKEN_INVALID"))
    with pytest.raises(BadRequest):
        async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()):
            pytest.fail("must not open")


async def test_draining_while_unreachable_ends_with_not_connected(adapters, autojump_clock):
    script, log = adapters
    script += [Transient("down")] * 100
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


class LoopHoldingAdapter(FlakyAdapter):
    """Holds a nursery open from __aenter__ to __aexit__, as the mtproto adapter's trio-asyncio loop does."""

    async def __aenter__(self) -> FlakyAdapter:
        await super().__aenter__()
        self._nursery_cm = trio.open_nursery()
        nursery = await self._nursery_cm.__aenter__()
        nursery.start_soon(trio.sleep_forever)
        self._nursery = nursery
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._nursery.cancel_scope.cancel()
        await self._nursery_cm.__aexit__(None, None, None)
        await super().__aexit__()


async def test_an_adapter_holding_a_nursery_opens_works_and_closes(monkeypatch, autojump_clock):
    log: list[str] = []
    script: list[BaseException] = [Transient("down")]
    monkeypatch.setattr(connect, "open_port", lambda settings, role: LoopHoldingAdapter(script, log))
    async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()) as port:
        await trio.sleep(5)  # the port in use, its nursery running
        assert isinstance(port, LoopHoldingAdapter)
    assert log == ["open", "open", "close"]
    with pytest.raises(KeyError) as raised:  # the caller's own error comes out as it was raised
        async with connect.connect_port(SETTINGS, role="gateway", stop=trio.Event()):
            raise KeyError("the body's")
    assert raised.value.args == ("the body's",) and log[-1] == "close"


async def test_the_mtproto_adapter_through_connect_port(tmp_path, monkeypatch):
    """kurigram's real client (against the contract suite's fake Telegram) opened by connect_port,
    used, and closed; then a drain while it is open ends the block normally."""
    from tests.contract.mtproto_env import mtproto_env

    async with mtproto_env(tmp_path) as env:
        monkeypatch.setattr(connect, "open_port", lambda settings, role: env.make_port(role))
        stop = trio.Event()
        with trio.fail_after(30):
            async with connect.connect_port(env.settings, role="uploader", stop=stop) as port:
                me = await port.get_me()
                stop.set()  # draining does not cancel a port already open
                await trio.lowlevel.checkpoint()
                assert (await port.get_me()) == me
        assert me.username == "contract_bot"
