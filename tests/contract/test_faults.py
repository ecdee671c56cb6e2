"""Trouble on the way to Telegram: server errors and cut connections are `Transient` and the port
works again once the trouble is over; a file the server refuses as too big is `TooLarge`.

These need a world that can inject faults (`FaultWorld` below); a world without them skips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import pytest
import trio

from core.telegram.port import IncomingMessage, Media, MediaKind, TooLarge, Transient
from tests.contract.world import World

USER = 5005
DEADLINE = 20.0  # seconds for any one test's Telegram traffic
POLL = 1.0  # seconds one long poll may wait


@runtime_checkable
class FaultWorld(World, Protocol):
    async def break_link(self, how: Literal["server_error", "drop"]) -> None:
        """From now on every call of the bot fails: answered by a 5xx, or its connection cut."""
        ...

    async def heal_link(self) -> None:
        """Calls succeed again."""
        ...

    async def cap_uploads(self, max_bytes: int) -> None:
        """The server refuses files over `max_bytes` (as the cloud Bot API does over 50 MB)."""
        ...


def fault_world(env) -> FaultWorld:
    if not isinstance(env.world, FaultWorld):
        pytest.skip("this world cannot inject faults (break_link, heal_link, cap_uploads)")
    return env.world


@pytest.mark.parametrize("how", ["server_error", "drop"])
async def test_a_failing_server_is_transient_and_the_port_recovers(env, how):
    world = fault_world(env)
    await world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            await world.break_link(how)
            with pytest.raises(Transient):
                await port.send_text(USER, "lost")
            await world.heal_link()
            await port.send_text(USER, "delivered")
    assert [r.text for r in await world.chat(USER) if r.from_bot] == ["delivered"]


async def test_a_receiver_gets_its_updates_after_the_link_comes_back(env):
    world = fault_world(env)
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            await world.break_link("drop")
            with pytest.raises(Transient):
                await port.get_updates(POLL)
            await world.heal_link()
            await world.user_message(USER, "hello again")
            got: list[IncomingMessage] = []
            while not got:
                batch = await port.get_updates(POLL)
                got += [u for u in batch.updates if isinstance(u, IncomingMessage)]
                await port.confirm(batch)
    assert [u.text for u in got] == ["hello again"]


async def test_a_file_the_server_refuses_as_too_big_is_too_large(env, tmp_path: Path):
    world = fault_world(env)
    await world.user_message(USER, "/start")
    cap = 1024 * 1024
    big = tmp_path / "big.bin"
    big.write_bytes(b"Z" * (3 * cap))
    async with env.make_port() as port:
        assert port.upload_limit > big.stat().st_size  # the port itself would send it
        await world.cap_uploads(cap)
        with trio.fail_after(DEADLINE):
            with pytest.raises(TooLarge):
                await port.send_media(USER, Media(MediaKind.DOCUMENT, path=big))
            await port.send_text(USER, "after")
    assert [(r.text, r.media_kind) for r in await world.chat(USER) if r.from_bot] == [("after", None)]
