"""The downloader's side of the job channel, driven message by message: one task reads the socket
and every slot gets the job meant for it, whatever order the tasks wake in; reports are sent again
until the gateway answers them; cancels reach the worker.

The socket is a stand-in that behaves as ZeroMQ does in the race that matters: a message that
has arrived can be taken at once by a non-blocking read, while a task asleep in `recv()` wakes
only when the file descriptor's edge comes, which the test holds back. So the interleaving is
exact, not left to the scheduler.
"""

from __future__ import annotations

from collections import deque

import trio
import trio.testing

from core.failures import ErrorClass, Failure
from ipc.channels import JobWorker
from ipc.messages import Credit, JobAssign, JobCancel, JobFailed, ReportAck, decode, encode

DEADLINE = 5.0


class GatedSocket:
    """A DEALER whose wake-ups the test hands out (`edge`)."""

    def __init__(self) -> None:
        self.inbox: deque[list[bytes]] = deque()
        self.sent: list[object] = []
        self.closed = False
        self._edge = trio.Event()

    def arrive(self, msg: JobAssign | ReportAck | JobCancel) -> None:
        """A message reaches the socket; a task asleep in recv() does not know yet."""
        self.inbox.append([encode(msg)])

    def edge(self) -> None:
        """The file descriptor signals: tasks asleep in recv() look again."""
        self._edge.set()
        self._edge = trio.Event()

    async def recv(self) -> list[bytes]:
        await trio.lowlevel.checkpoint()
        while True:
            if self.inbox:
                return self.inbox.popleft()
            edge = self._edge
            await edge.wait()

    def recv_nowait(self) -> list[bytes] | None:
        return self.inbox.popleft() if self.inbox else None

    async def send(self, frames: list[bytes]) -> None:
        await trio.lowlevel.checkpoint()
        self.sent.append(decode(frames[-1]))

    def send_nowait(self, frames: list[bytes]) -> bool:
        self.sent.append(decode(frames[-1]))
        return True

    def close(self, linger_ms: int = 0) -> None:
        self.closed = True

    def credits(self) -> list[tuple[str, int]]:
        return [(m.kind, m.slots) for m in self.sent if isinstance(m, Credit)]


def job(job_id: int, slot: str) -> JobAssign:
    return JobAssign(
        job_id=job_id, lease=1, task="probe" if slot == "probe" else "download", url=f"https://example.com/{job_id}",
        chat_id=7, user_id=7, format_key="", attempt=1, slot=slot,
    )  # fmt: skip


async def test_a_job_for_a_sleeping_slot_reaches_it_when_another_slot_wakes_first():
    """The lost wake-up: the probe slot sleeps waiting for its job; the job arrives; before the
    socket's edge wakes anyone, an "any" slot starts waiting too. Today's channel let that slot
    take the probe's job off the socket and file it while the probe slot slept on in recv(): the
    job waited until some other message came, the gateway took it back after HEARTBEAT_TIMEOUT
    and a second copy ran beside the first."""
    sock = GatedSocket()
    worker = JobWorker("downloader-1", "inproc://jobs", socket=sock)  # type: ignore[arg-type]
    got: dict[str, int] = {}

    async def slot(kind: str) -> None:
        got[kind] = (await worker.next_job(kind)).job_id

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            nursery.start_soon(slot, "probe")
            await trio.testing.wait_all_tasks_blocked()
            assert sock.credits() == [("probe", 1)]
            sock.arrive(job(1, "probe"))
            nursery.start_soon(slot, "any")  # wakes while the probe's job waits unread
            await trio.testing.wait_all_tasks_blocked()
            sock.edge()
            while "probe" not in got:
                await trio.testing.wait_all_tasks_blocked()
                if "probe" not in got:
                    raise AssertionError(f"the probe slot never got its job; slots got {got}")
            assert got == {"probe": 1}  # the "any" slot still waits, for a job of its own
            assert sock.credits() == [("probe", 1), ("any", 1)]
            assert worker.unclaimed == 0 and worker.outstanding == 1
            nursery.cancel_scope.cancel()


async def test_jobs_arriving_together_go_each_to_its_own_kind_of_slot():
    sock = GatedSocket()
    worker = JobWorker("downloader-1", "inproc://jobs", socket=sock)  # type: ignore[arg-type]
    got: dict[str, list[int]] = {"any": [], "probe": []}

    async def slot(kind: str) -> None:
        got[kind].append((await worker.next_job(kind)).job_id)

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            for kind in ("any", "any", "probe"):
                nursery.start_soon(slot, kind)
            await trio.testing.wait_all_tasks_blocked()
            for job_id, kind in ((1, "probe"), (2, "any"), (3, "any")):
                sock.arrive(job(job_id, kind))
            sock.edge()
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(got["any"]) == [2, 3] and got["probe"] == [1]
            nursery.cancel_scope.cancel()


async def test_a_report_is_sent_again_until_answered_and_a_stale_answer_is_ignored(autojump_clock):
    sock = GatedSocket()
    worker = JobWorker("downloader-1", "inproc://jobs", socket=sock)  # type: ignore[arg-type]
    failed = JobFailed(job_id=5, lease=2, worker="downloader-1", failure=Failure(ErrorClass.NETWORK, "reset"))
    answers: list[ReportAck] = []

    async def report() -> None:
        answers.append(await worker.report(failed, resend_s=1.0))

    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        nursery.start_soon(report)
        await trio.testing.wait_all_tasks_blocked()
        assert sock.sent == [failed]
        await trio.sleep(1.5)  # no answer within resend_s (logical time): sent again
        assert sock.sent == [failed, failed]
        sock.arrive(ReportAck(job_id=5, lease=1, report="JobFailed", accepted=True))  # an older lease's
        sock.arrive(ReportAck(job_id=5, lease=2, report="JobFailed", accepted=False))
        sock.edge()
        with trio.fail_after(DEADLINE):
            while not answers:
                await trio.sleep(0.01)
        assert answers == [ReportAck(job_id=5, lease=2, report="JobFailed", accepted=False)]
        nursery.cancel_scope.cancel()


async def test_a_cancel_reaches_the_worker():
    sock = GatedSocket()
    cancels: list[JobCancel] = []
    worker = JobWorker("downloader-1", "inproc://jobs", socket=sock, on_cancel=cancels.append)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        sock.arrive(JobCancel(job_id=4, lease=3, why="cancelled"))
        sock.edge()
        with trio.fail_after(DEADLINE):
            while not cancels:
                await trio.sleep(0.01)
        assert cancels == [JobCancel(job_id=4, lease=3, why="cancelled")]
        nursery.cancel_scope.cancel()
