"""Credit-based job dispatch between the gateway (here, the test) and downloader processes."""

from __future__ import annotations

import trio
import zmq

from ipc.channels import JobDispatcher, open_job_dispatcher, open_job_worker
from ipc.messages import JobAssign
from ipc.zmqtrio import Socket

POLL_INTERVAL = 0.01
DEADLINE = 20.0


def job(job_id: int) -> JobAssign:
    return JobAssign(
        lease=1,
        task="download",
        job_id=job_id,
        url=f"https://example.com/v/{job_id}",
        chat_id=7,
        user_id=7,
        format_key="best",
        attempt=1,
    )


async def free_workers_become(jobs: JobDispatcher, expected: list[str]) -> None:
    """Poll to a deadline: credits arrive on their own, there is no event to wait on."""
    seen: list[str] = []
    with trio.move_on_after(DEADLINE):
        while (seen := jobs.free_workers()) != expected:
            await trio.sleep(POLL_INTERVAL)
        return
    raise AssertionError(f"free workers never became {expected}; last seen {seen}")


async def test_busy_worker_never_gets_a_second_job(start_peer, endpoint):
    async with open_job_dispatcher(endpoint("jobs")) as jobs:
        holder = await start_peer("worker", jobs.endpoint, "downloader-1", "hold")
        await holder.expect("ready")
        await free_workers_become(jobs, ["downloader-1"])
        with trio.fail_after(DEADLINE):
            assert (await jobs.dispatch(job(0))).name == "downloader-1"
        assert await holder.expect("got") == ["0"]

        busy_worker = await start_peer("worker", jobs.endpoint, "downloader-2", "work")
        await busy_worker.expect("ready")
        sent_to: dict[str, list[int]] = {"downloader-1": [0], "downloader-2": []}
        with trio.fail_after(DEADLINE):
            for job_id in range(1, 41):
                sent_to[(await jobs.dispatch(job(job_id))).name].append(job_id)
                # The job reached the worker the dispatcher named (it asks for the next one itself).
                assert await busy_worker.expect("got") == [str(job_id)]

        assert sent_to == {"downloader-1": [0], "downloader-2": list(range(1, 41))}
        assert jobs.free_workers() in ([], ["downloader-2"])
        await holder.finish()
        assert await holder.expect("extra") == ["0"]  # nothing queued behind its held job


async def test_worker_that_is_gone_loses_its_credit(start_peer, endpoint):
    async with open_job_dispatcher(endpoint("jobs")) as jobs:
        events = Socket(jobs.socket.zmq.get_monitor_socket(zmq.EVENT_DISCONNECTED))
        doomed = await start_peer("worker", jobs.endpoint, "downloader-1", "work")
        await doomed.expect("ready")
        await free_workers_become(jobs, ["downloader-1"])
        await doomed.kill()  # SIGKILL while idle, holding a credit
        with trio.fail_after(DEADLINE):
            await events.recv()  # the gateway's socket has seen the connection drop

        survivor = await start_peer("worker", jobs.endpoint, "downloader-2", "work")
        await survivor.expect("ready")
        with trio.fail_after(DEADLINE):
            assert (await jobs.dispatch(job(1))).name == "downloader-2"
        assert await survivor.expect("got") == ["1"]
        assert "downloader-1" not in jobs.free_workers()
        jobs.socket.zmq.disable_monitor()
        events.close(0)


async def test_forget_drops_a_workers_credits(start_peer, endpoint):
    async with open_job_dispatcher(endpoint("jobs")) as jobs:
        first = await start_peer("worker", jobs.endpoint, "downloader-1", "work")
        await first.expect("ready")
        await free_workers_become(jobs, ["downloader-1"])
        jobs.forget("downloader-1")
        assert jobs.free_workers() == []
        second = await start_peer("worker", jobs.endpoint, "downloader-2", "work")
        await second.expect("ready")
        with trio.fail_after(DEADLINE):
            assert (await jobs.dispatch(job(5))).name == "downloader-2"
        assert await second.expect("got") == ["5"]


async def test_workers_ask_again_after_a_gateway_restart(start_peer, endpoint):
    address = endpoint("jobs")
    async with open_job_dispatcher(address) as old_gateway:
        worker = await start_peer("worker", address, "downloader-1", "work")
        await worker.expect("ready")
        await free_workers_become(old_gateway, ["downloader-1"])
    # The old gateway took the worker's credit with it; a new one must still get work done.
    async with open_job_dispatcher(address) as new_gateway:
        with trio.fail_after(DEADLINE):
            assert (await new_gateway.dispatch(job(9))).name == "downloader-1"
        assert await worker.expect("got") == ["9"]
        await free_workers_become(new_gateway, ["downloader-1"])  # exactly one credit again


async def test_dispatch_waits_for_a_credit_and_can_be_cancelled(endpoint):
    async with open_job_dispatcher(endpoint("jobs")) as jobs:
        with trio.move_on_after(0.2) as scope:
            await jobs.dispatch(job(1))
        assert scope.cancelled_caught
        assert jobs.free_workers() == []


async def test_a_worker_with_two_slots_gets_two_jobs_and_not_a_third(endpoint):
    async with (
        open_job_dispatcher(endpoint("jobs")) as jobs,
        open_job_worker("downloader-1", jobs.endpoint) as worker,
    ):
        got: list[int] = []
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:

                async def slot() -> None:  # one free slot asks for one job
                    got.append((await worker.next_job()).job_id)

                nursery.start_soon(slot)
                nursery.start_soon(slot)
                await free_slots_become(jobs, 2)
                assert [(await jobs.dispatch(job(k))).name for k in (1, 2)] == ["downloader-1"] * 2
        assert sorted(got) == [1, 2] and worker.outstanding == 0
        with trio.move_on_after(0.3) as waited:  # both slots busy: the third job must wait
            await jobs.dispatch(job(3))
        assert waited.cancelled_caught
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(slot)  # a slot is free again
                assert (await jobs.dispatch(job(3))).name == "downloader-1"
        assert got[-1] == 3


async def free_slots_become(jobs: JobDispatcher, expected: int) -> None:
    seen = 0
    with trio.move_on_after(DEADLINE):
        while (seen := jobs.free_slots()) != expected:
            await trio.sleep(POLL_INTERVAL)
        return
    raise AssertionError(f"free slots never became {expected}; last seen {seen}")


async def test_a_probe_slot_takes_probes_only_and_a_probe_never_waits_behind_downloads(endpoint):
    async with (
        open_job_dispatcher(endpoint("jobs")) as jobs,
        open_job_worker("downloader-1", jobs.endpoint) as worker,
    ):
        got: dict[str, list[int]] = {"any": [], "probe": []}

        async def slot(kind: str) -> None:
            got[kind].append((await worker.next_job(kind)).job_id)

        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(slot, "any")
                nursery.start_soon(slot, "probe")
                await free_slots_become(jobs, 2)
                assert jobs.free_slots("probe") == 1 and jobs.free_slots("any") == 1
                # A download may only use the "any" slot...
                assert (await jobs.dispatch(job(1), kinds=("any",))).name == "downloader-1"
                # ...and with it busy, a probe still finds the probe slot at once.
                assert await jobs.wait_for_credit(("any", "probe")) == "probe"
                assert (await jobs.dispatch(job(2), kinds=("any", "probe"))).name == "downloader-1"
        assert got == {"any": [1], "probe": [2]} and worker.outstanding == 0
        with trio.move_on_after(0.3) as waited:  # no free slot of any kind now
            await jobs.dispatch(job(3), kinds=("any", "probe"))
        assert waited.cancelled_caught


async def test_a_silent_workers_credits_are_dropped_and_it_asks_again_when_it_lives(endpoint):
    """The gateway forgets the free slots of a worker it took a job back from (silent: maybe
    stopped), so that no job waits in a stopped worker's queue; a worker alive after all hears it
    and asks for them again."""
    async with (
        open_job_dispatcher(endpoint("jobs")) as jobs,
        open_job_worker("downloader-1", jobs.endpoint) as worker,
        trio.open_nursery() as nursery,
    ):
        for _ in range(2):
            nursery.start_soon(worker.next_job)
        await free_slots_become(jobs, 2)
        jobs.drop_credits(worker.identity)
        assert jobs.free_slots() == 0
        await free_slots_become(jobs, 2)  # asked again, exactly as many
        assert worker.outstanding == 2
        nursery.cancel_scope.cancel()
