"""The control channel between the supervisor (here, the test) and child processes."""

from __future__ import annotations

import trio

from ipc.channels import ControlClient, ControlServer
from ipc.messages import Drain, Heartbeat, Ready

DEADLINE = 20.0


async def test_child_reports_ready_and_obeys_drain(start_peer, endpoint):
    with ControlServer(endpoint("control")) as control:
        child = await start_peer("control", control.endpoint, "downloader-1")
        with trio.fail_after(DEADLINE):
            name, msg = await control.recv()
        assert name == "downloader-1"
        assert isinstance(msg, Ready) and msg.name == "downloader-1" and msg.pid == child.process.pid
        await child.expect("ready")
        assert await control.send("downloader-1", Drain())
        assert await child.expect("got") == ["Drain"]
        assert await child.finish() == 0


async def test_sending_to_a_child_that_is_not_connected_returns_false(endpoint):
    with ControlServer(endpoint("control")) as control:
        assert not await control.send("downloader-7", Drain())


async def test_a_restarted_child_with_the_same_name_takes_over(start_peer, endpoint):
    with ControlServer(endpoint("control")) as control:
        old = await start_peer("control", control.endpoint, "gateway")
        with trio.fail_after(DEADLINE):
            assert (await control.recv())[0] == "gateway"
        await old.kill()
        new = await start_peer("control", control.endpoint, "gateway")
        with trio.fail_after(DEADLINE):
            name, msg = await control.recv()
        assert name == "gateway" and isinstance(msg, Ready) and msg.pid == new.process.pid
        assert await control.send("gateway", Drain())
        assert await new.expect("ready") == []
        assert await new.expect("got") == ["Drain"]


async def test_two_children_are_told_apart(endpoint):
    with ControlServer(endpoint("control")) as control:
        up, mon = ControlClient("uploader", control.endpoint), ControlClient("monitor", control.endpoint)
        with up, mon, trio.fail_after(DEADLINE):
            await up.send(Heartbeat(name="uploader", pid=1, sent_at=0.0))
            await mon.send(Heartbeat(name="monitor", pid=2, sent_at=0.0))
            senders = {(await control.recv())[0] for _ in range(2)}
            assert senders == {"uploader", "monitor"}
            assert await control.send("monitor", Drain())
            assert await mon.recv() == Drain()
