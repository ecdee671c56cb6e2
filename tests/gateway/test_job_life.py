"""A job's life in the gateway, the one writer of jobs, driven event by event against a real SQLite
file: reports applied once and refused under a stale lease, a silent worker's job taken back (but
not by a gateway that merely stalled), cancels told to the worker, the disk budget before each
download, and the sweep that ends a job whose uploader's event was lost, with exactly one answer.

The job channel is a stand-in that records what the gateway sends a downloader (the channel
itself is tested in tests/ipc); time is trio's autojump clock where it matters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from core import outbox
from core.failures import ErrorClass, Failure
from core.payloads import SendMedia
from core.telegram import SentMedia
from gateway.dispatch import Dispatcher
from gateway.events import JobEvents, Outcome
from ipc.channels import Inbound, Taker
from ipc.messages import (
    DeliveryFailed,
    DownloadedFile,
    FileMissing,
    JobAssign,
    JobCancel,
    JobClaim,
    JobDelivered,
    JobDownloaded,
    JobFailed,
    JobProbed,
    Probe,
    ReportAck,
    WorkerEvent,
    WorkerJobs,
)
from tests.gateway.gatekit import World, yt
from uploader import media

WORKER, IDENTITY = "downloader-1", b"downloader-1/1/abc"
HEARTBEAT_TIMEOUT = 10.0


class Channel:
    """The job channel as the gateway sees it: one downloader with the free slots the test gives;
    what the gateway sends it is recorded."""

    def __init__(self) -> None:
        self.slots = {"any": 0, "probe": 0}
        self.assigned: list[JobAssign] = []
        self.sent: list[tuple[bytes, ReportAck | JobCancel]] = []
        self.dropped: list[bytes] = []  # connections whose credits were forgotten
        self._events_in, self.events = trio.open_memory_channel[Inbound](100)

    def free_slots(self, kind: str | None = None) -> int:
        return self.slots[kind] if kind is not None else sum(self.slots.values())

    async def dispatch(self, job: JobAssign, kinds: tuple[str, ...] = ("any",)) -> Taker:
        self.slots[kinds[0]] -= 1
        self.assigned.append(job)
        return Taker(WORKER, IDENTITY)

    async def wait_for_credit(self, kinds: tuple[str, ...]) -> str:
        await trio.sleep_forever()
        raise AssertionError

    def send_nowait(self, identity: bytes, msg: ReportAck | JobCancel) -> bool:
        self.sent.append((identity, msg))
        return True

    def drop_credits(self, identity: bytes) -> None:
        self.dropped.append(identity)

    def cancels(self) -> list[tuple[int, int]]:
        return [(m.job_id, m.lease) for _, m in self.sent if isinstance(m, JobCancel)]


class Life:
    """A gateway (its router, dispatcher and job events) on a real database, one downloader."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.world = World(folder, HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT), HEARTBEAT_INTERVAL="1", **env)
        self.db = self.world.db
        self.settings = self.world.settings
        self.channel = Channel()
        self.announced: list[int] = []
        self.dispatcher = Dispatcher(self.settings, self.db, self.channel, self.announced.extend)  # type: ignore[arg-type]
        self.events = JobEvents(self.settings, self.db, self.world.codec, self.dispatcher)

    async def link(self, user_id: int, n: int, default: str = "best") -> int:
        """A user with a saved default format sends a link: a queued download."""
        await self.world.say(user_id, "/start")
        self.db.execute("UPDATE users SET default_format = ? WHERE id = ?", [default, user_id])
        await self.world.say(user_id, yt(n))
        return int(self.db.execute("SELECT max(id) FROM jobs WHERE user_id = ?", [user_id]).fetchone()[0])

    async def hand_out(self, slot: str = "any") -> JobAssign:
        self.channel.slots[slot] = 1
        before = len(self.channel.assigned)
        await self.dispatcher._dispatch_ready()
        assert len(self.channel.assigned) == before + 1, "nothing was dispatched"
        return self.channel.assigned[-1]

    def report(self, event: WorkerEvent) -> Outcome:
        return self.events.from_worker(Inbound(IDENTITY, event, trio.current_time()))

    def job(self, job_id: int) -> dict[str, Any]:
        cursor = self.db.execute("SELECT * FROM jobs WHERE id = ?", [job_id])
        return dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))

    def files(self, job_id: int) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT state FROM outbox WHERE job_id = ? AND kind = 'media'", [job_id])]

    def answers(self, user_id: int) -> list[str]:
        """What the user reads in the end: the text of every message (edits applied), the deletes."""
        return [str(p.get("text", "")) for p in self.world.sent(user_id) if p.get("text")]

    def close(self) -> None:
        self.world.close()


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Life]:
    life = Life(tmp_path)
    try:
        yield life
    finally:
        life.close()


def downloaded(assign: JobAssign, folder: str = "/spool/x", lease: int | None = None) -> JobDownloaded:
    return JobDownloaded(
        job_id=assign.job_id,
        lease=assign.lease if lease is None else lease,
        worker=WORKER,
        media_key=f"Youtube:{assign.job_id}",
        format_key="v:720",
        title="A video",
        files=[DownloadedFile(path=f"{folder}/media.mp4", kind="video", size=1000, part=1, parts=1)],
        folder=folder,
    )


# ---- a downloader's reports ------------------------------------------------------------------------


async def test_a_download_is_applied_once_and_a_stale_or_cancelled_one_is_refused(life):
    job_id = await life.link(7, 1)
    first = await life.hand_out()
    assert (first.task, first.lease, first.audio_format) == ("download", 1, "m4a")  # all a worker needs
    life.dispatcher.leases.pop(job_id)  # the worker went silent: the job was taken back...
    life.db.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", [job_id])
    second = await life.hand_out()  # ...and given again
    assert second.lease == 2

    stale = life.report(downloaded(first, "/spool/1-1"))
    assert stale.ack == ReportAck(job_id=job_id, lease=1, report="JobDownloaded", accepted=False)
    assert life.job(job_id)["state"] == "downloading" and life.files(job_id) == []

    fresh = life.report(downloaded(second, "/spool/1-2"))
    assert fresh.ack is not None and fresh.ack.accepted
    assert life.job(job_id)["state"] == "uploading" and life.files(job_id) == ["pending"]
    again = life.report(downloaded(second, "/spool/1-2"))  # the answer was lost: the same report again
    assert again.ack is not None and again.ack.accepted and life.files(job_id) == ["pending"]

    other = await life.link(8, 2)
    assign = await life.hand_out()
    await life.world.say(8, "/cancel")
    late = life.report(downloaded(assign))
    assert late.ack is not None and not late.ack.accepted  # cancelled meanwhile: its files are removed
    assert life.job(other)["state"] == "cancelled" and life.files(other) == []


async def test_a_failed_try_is_retried_and_the_last_one_answers_once(life):
    job_id = await life.link(7, 1)
    net = Failure(ErrorClass.NETWORK, "reset")
    for attempt in range(1, life.settings.job_attempts + 1):
        life.db.execute("UPDATE jobs SET not_before = 0 WHERE id = ?", [job_id])
        assign = await life.hand_out()
        assert assign.attempt == attempt
        out = life.report(JobFailed(job_id=job_id, lease=assign.lease, worker=WORKER, failure=net))
        assert out.ack is not None and out.ack.accepted
    assert life.job(job_id)["state"] == "failed"
    assert life.answers(7)[-1].startswith("I couldn't reach the site")
    again = life.report(JobFailed(job_id=job_id, lease=assign.lease, worker=WORKER, failure=net))  # sent twice
    assert life.job(job_id)["state"] == "failed" and again.notices == []
    assert sum("I couldn't reach the site" in t for t in life.answers(7)) == 1


async def test_a_plain_file_is_claimed_only_if_it_fits_the_spool(tmp_path):
    life = Life(tmp_path, SPOOL_MAX_GB="0.001")  # about 1 MiB
    try:
        job_id = await life.link(7, 1, default="ask")
        probe = await life.hand_out("probe")
        big = life.report(JobClaim(job_id=job_id, lease=probe.lease, worker=WORKER, size=5_000_000))
        assert big.ack is not None and not big.ack.accepted and life.job(job_id)["state"] == "probing"
        small = life.report(JobClaim(job_id=job_id, lease=probe.lease, worker=WORKER, size=1000))
        assert small.ack is not None and small.ack.accepted
        assert (life.job(job_id)["state"], life.job(job_id)["format_key"]) == ("downloading", "file")
    finally:
        life.close()


# ---- silence, stalls and cancels ----------------------------------------------------------------------


async def test_a_gateway_that_stalls_takes_back_no_job_of_a_live_worker(life, autojump_clock):
    job_id = await life.link(7, 1)
    assign = await life.hand_out()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(life.dispatcher.watch)

        async def worker_beats() -> None:
            while True:
                life.report(WorkerJobs(worker=WORKER, jobs=[(job_id, assign.lease)], sent_at=time.time()))
                await trio.sleep(1.0)

        nursery.start_soon(worker_beats)
        await trio.sleep(5)
        autojump_clock.jump(3 * HEARTBEAT_TIMEOUT)  # the gateway's loop stood still (a busy database)
        await trio.sleep(3 * HEARTBEAT_TIMEOUT)  # and then runs on, the worker alive throughout
        nursery.cancel_scope.cancel()
    assert life.job(job_id)["state"] == "downloading" and job_id in life.dispatcher.leases
    assert life.channel.cancels() == []


async def test_a_silent_worker_loses_its_job_and_is_told_to_stop(life, autojump_clock):
    job_id = await life.link(7, 1)
    assign = await life.hand_out()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(life.dispatcher.watch)
        await trio.sleep(HEARTBEAT_TIMEOUT * 0.8)
        assert life.job(job_id)["state"] == "downloading"
        await trio.sleep(HEARTBEAT_TIMEOUT * 0.5)  # no sign of life at all
        nursery.cancel_scope.cancel()
    assert (life.job(job_id)["state"], life.job(job_id)["lease"]) == ("queued", assign.lease)
    assert life.channel.cancels() == [(job_id, assign.lease)]
    assert life.channel.dropped == [IDENTITY]  # a stopped worker is handed nothing more
    # A zombie of it, back later, hears it again at its next beat
    life.report(WorkerJobs(worker=WORKER, jobs=[(job_id, assign.lease)], sent_at=time.time()))
    assert life.channel.cancels() == [(job_id, assign.lease)] * 2


async def test_a_silent_worker_on_the_last_attempt_fails_the_job_with_one_answer(life, autojump_clock):
    job_id = await life.link(7, 1)
    life.db.execute("UPDATE jobs SET attempts = ? WHERE id = ?", [life.settings.job_attempts - 1, job_id])
    await life.hand_out()
    with trio.move_on_after(HEARTBEAT_TIMEOUT * 3):
        await life.dispatcher.watch()
    assert life.job(job_id)["state"] == "failed"
    assert sum("Something failed inside the bot" in t for t in life.answers(7)) == 1


async def test_a_stale_failure_leaves_the_current_holder_watched(life):
    job_id = await life.link(7, 1)
    first = await life.hand_out()
    life.dispatcher.leases.pop(job_id)
    life.db.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", [job_id])
    second = await life.hand_out()
    net = Failure(ErrorClass.NETWORK, "reset")
    out = life.report(JobFailed(job_id=job_id, lease=first.lease, worker=WORKER, failure=net))
    assert out.ack is not None and not out.ack.accepted
    assert life.dispatcher.leases[job_id].lease == second.lease  # still watched
    assert life.job(job_id)["state"] == "downloading"


async def test_a_cancel_is_told_to_the_worker_holding_the_job(life):
    job_id = await life.link(7, 1)
    assign = await life.hand_out()
    await life.world.say(7, "/cancel")
    life.dispatcher.check_moves()
    assert life.channel.cancels() == [(job_id, assign.lease)]
    assert job_id not in life.dispatcher.leases


async def test_a_probe_of_a_stale_lease_still_fills_the_cache_but_moves_nothing(life):
    job_id = await life.link(7, 1, default="ask")
    probe = await life.hand_out("probe")
    life.dispatcher.leases.pop(job_id)
    life.db.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", [job_id])
    await life.hand_out("probe")
    found = Probe(kind="video", title="T", choices=[])
    out = life.report(JobProbed(job_id=job_id, lease=probe.lease, worker=WORKER, media_key="Youtube:x", probe=found))
    assert out.ack is not None and not out.ack.accepted and life.job(job_id)["state"] == "probing"
    assert life.db.execute("SELECT count(*) FROM media_probes").fetchone()[0] == 1


# ---- the disk budget, before each download ----------------------------------------------------------


async def test_a_download_that_does_not_fit_waits_and_one_that_never_can_fails_politely(tmp_path):
    life = Life(tmp_path, SPOOL_MAX_GB="0.001")  # about 1 MiB
    try:
        huge = await life.link(7, 1)
        life.db.execute("UPDATE jobs SET media_key = 'Youtube:h', format_key = 'v:720' WHERE id = ?", [huge])
        life.db.execute(
            "INSERT INTO media_probes (media_key, platform, info, created_at) VALUES ('Youtube:h', 'Youtube', ?, ?)",
            ['{"kind": "video", "choices": [{"key": "v:720", "height": 720, "size": 5000000}]}', time.time()],
        )
        waits = await life.link(8, 2)
        life.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        (life.settings.spool_dir / "filler.bin").write_bytes(b"x" * 1_100_000)  # the spool is full now
        life.channel.slots["any"] = 1
        await life.dispatcher._dispatch_ready()
        assert life.job(huge)["state"] == "failed"
        assert "bigger than 1 MB" in life.answers(7)[-1]  # the polite answer, with the budget in it
        assert life.job(waits)["state"] == "queued" and life.dispatcher.waits_for_disk
        (life.settings.spool_dir / "filler.bin").unlink()
        life.dispatcher._disk = None  # the next reading of the spool
        assign = await life.hand_out()
        assert assign.job_id == waits
    finally:
        life.close()


# ---- the uploader's outcomes, and the sweep that finds a lost one ----------------------------------


async def uploading(life: Life, user_id: int, n: int) -> tuple[int, list[outbox.OutboxItem]]:
    job_id = await life.link(user_id, n)
    assign = await life.hand_out()
    life.report(downloaded(assign))
    items = [i for i in outbox.claim(life.db, 10, files=True) if i.job_id == job_id]
    return job_id, items


def sent(item: outbox.OutboxItem) -> SentMedia:
    return SentMedia(chat_id=item.chat_id, message_id=500 + item.id, file_id=f"file-{item.id}", size=1000)


async def test_the_sweep_ends_a_job_whose_delivered_event_was_lost_and_the_late_event_changes_nothing(life):
    job_id, [item] = await uploading(life, 7, 1)
    assert isinstance(item.payload, SendMedia)
    after = media.file_sent(life.db, item, item.payload, sent(item))
    assert isinstance(after.event, JobDelivered)  # the uploader pushed it... and it was lost
    assert life.job(job_id)["state"] == "uploading"
    life.events.sweep()
    assert life.job(job_id)["state"] == "done"
    assert life.db.execute("SELECT downloads_ok FROM users WHERE id = 7").fetchone() == (1,)
    late = life.events.from_uploader(after.event)
    assert late == [] and life.db.execute("SELECT downloads_ok FROM users WHERE id = 7").fetchone() == (1,)


async def test_the_sweep_fails_a_job_whose_file_failed_with_that_files_class(life):
    job_id, [item] = await uploading(life, 7, 1)
    assert isinstance(item.payload, SendMedia)
    after = media.file_failed(life.db, item, item.payload, Failure(ErrorClass.BLOCKED, "403 blocked"))
    assert isinstance(after.event, DeliveryFailed)
    life.events.sweep()
    assert life.job(job_id)["state"] == "failed" and life.job(job_id)["error_class"] == "blocked"
    assert life.answers(7)[-1].startswith("The file could not be delivered because the bot is blocked")
    life.events.from_uploader(after.event)  # the late event
    assert sum(t.startswith("The file could not be delivered") for t in life.answers(7)) == 1


async def test_a_missing_file_downloads_the_job_again_within_its_attempts(life):
    job_id, [item] = await uploading(life, 7, 1)
    assert isinstance(item.payload, SendMedia)
    after = media.file_missing(life.db, item, item.payload, "/spool/x/media.mp4 is not in the spool")
    assert isinstance(after.event, FileMissing)
    life.events.from_uploader(after.event)
    assert life.job(job_id)["state"] == "queued"
    assign = await life.hand_out()
    assert (assign.job_id, assign.attempt) == (job_id, 2)
    life.db.execute("UPDATE jobs SET attempts = ? WHERE id = ?", [life.settings.job_attempts, job_id])
    life.report(downloaded(assign))
    [again] = [i for i in outbox.claim(life.db, 10, files=True) if i.job_id == job_id]
    assert isinstance(again.payload, SendMedia)
    media.file_missing(life.db, again, again.payload, "gone again")  # its event lost: the sweep sees it
    life.events.sweep()
    assert life.job(job_id)["state"] == "failed"  # no attempt left: one honest failure
