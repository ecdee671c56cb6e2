"""Files come home over the job channel (real ZeroMQ sockets, in one process): whole and checked,
within the receiver's credit, resumed from the last acknowledged byte after the receiver restarts
or the sender starts over, a damaged chunk asked again, a whole file whose SHA-256 differs sent
again from the start, and a file the main host will not take refused with a reason."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
import trio

from ipc.channels import JobDispatcher, JobWorker, open_job_dispatcher, open_job_worker
from ipc.filestream import CHECKSUM_RETRIES, FileRefused, FileSender, FileSink
from ipc.messages import FileAck, FileChunk, FileOffer, Message
from tests.support.poll import until

DEADLINE = 30.0
CHUNK = 64 * 1024
WINDOW_CHUNKS = 4
ACK_WAIT_S = 0.5


def sample(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Watched(FileSink):
    """A sink that checks the sender's credit on every chunk, and can stop answering (a crash),
    see one chunk damaged on the way, or the file's SHA-256 in its last chunk."""

    granted = 0  # the furthest `until` it has given
    over_credit = 0  # chunks that went past it
    chunks = 0
    offers = 0
    dead_after: int | None = None  # stop answering after this many chunks
    damage_chunk: int | None = None  # flip a byte in this chunk (by count)
    wrong_sha = 0  # this many times, the last chunk comes with another SHA-256

    def handle(self, msg: FileOffer | FileChunk) -> FileAck | None:
        self.offers += isinstance(msg, FileOffer)
        if isinstance(msg, FileChunk):
            self.chunks += 1
            if self.dead_after is not None and self.chunks > self.dead_after:
                return None
            if msg.offset + len(msg.data) > self.granted:
                self.over_credit += 1
            if self.chunks == self.damage_chunk:
                msg = msgspec.structs.replace(msg, data=bytes([msg.data[0] ^ 0xFF]) + msg.data[1:])
            if msg.sha256 and self.wrong_sha:
                self.wrong_sha -= 1
                msg = msgspec.structs.replace(msg, sha256=hashlib.sha256(b"another file").hexdigest())
        ack = super().handle(msg)
        if ack is not None:
            self.granted = max(self.granted, ack.until)
        return ack


@asynccontextmanager
async def link(tmp_path: Path) -> AsyncIterator[tuple[JobDispatcher, JobWorker, FileSender]]:
    async with (
        open_job_dispatcher(f"ipc://{tmp_path}/jobs.sock") as jobs,
        open_job_worker("downloader-1@h1", f"ipc://{tmp_path}/jobs.sock") as worker,
    ):
        yield jobs, worker, FileSender(worker, CHUNK, ack_wait_s=ACK_WAIT_S)


@asynccontextmanager
async def sink_on(
    jobs: JobDispatcher, spool: Path, window_chunks: int = WINDOW_CHUNKS, **extra: int
) -> AsyncIterator[Watched]:
    sink = Watched(spool, jobs.send_nowait, window_bytes=CHUNK * window_chunks, max_bytes=1 << 30)
    for name, value in extra.items():
        setattr(sink, name, value)

    async def received(identity: bytes, msg: Message) -> None:
        await sink.received(identity, msg)

    jobs.on_other = received
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sink.run)
        yield sink
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("window_chunks", [1, 3, WINDOW_CHUNKS])  # answered every chunk, or every half window
async def test_a_file_arrives_whole_within_the_credit(tmp_path: Path, window_chunks: int) -> None:
    source = sample(tmp_path / "media.mp4", 3 * 1024 * 1024 + 17)
    spool = tmp_path / "spool"
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, spool, window_chunks) as sink:
        with trio.fail_after(DEADLINE):
            home = await sender.send_file(12, 3, source, "media.mp4")
    assert Path(home) == spool / "12-3" / "media.mp4"
    assert digest(Path(home)) == digest(source)
    assert sink.over_credit == 0 and sink.chunks == -(-source.stat().st_size // CHUNK)
    assert sink.offers == 1  # the credit never ran dry (the sender would have offered again after a silence)
    assert not list(spool.rglob("*.part"))


async def test_an_empty_file_arrives(tmp_path: Path) -> None:
    source = sample(tmp_path / "empty.jpg", 0)
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, tmp_path / "spool"):
        with trio.fail_after(DEADLINE):
            home = await sender.send_file(4, 1, source, "empty.jpg")
    assert digest(Path(home)) == digest(source)  # the SHA-256 of nothing, checked


async def test_a_receiver_that_restarts_resumes_from_what_it_has(tmp_path: Path) -> None:
    size = 2 * 1024 * 1024
    source = sample(tmp_path / "media.mp4", size)
    spool = tmp_path / "spool"
    async with link(tmp_path) as (jobs, _worker, sender), trio.open_nursery() as nursery:
        home: list[str] = []

        async def send() -> None:
            home.append(await sender.send_file(5, 1, source, "media.mp4"))

        async with sink_on(jobs, spool, dead_after=10) as first:  # the gateway dies after 10 chunks
            nursery.start_soon(send)
            await until("the first sink to stop answering", lambda: first.chunks > 10, DEADLINE)
        had = (spool / "5-1" / "media.mp4.part").stat().st_size
        assert had == 10 * CHUNK
        async with sink_on(jobs, spool) as second:  # a new gateway, the same spool
            await until("the file to be home", lambda: home, DEADLINE)
    assert digest(Path(home[0])) == digest(source)
    assert second.received_bytes == size - had  # nothing that had arrived came again


async def test_a_sender_that_starts_over_goes_on_from_what_arrived(tmp_path: Path) -> None:
    """A new send of a file the main host has part of: the sender hashes that part from its disk
    (it did not read it this time), so the SHA-256 in its last chunk is still the whole file's."""
    size = 2 * 1024 * 1024 + 5
    source = sample(tmp_path / "media.mp4", size)
    spool = tmp_path / "spool"
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, spool, dead_after=10) as sink:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.send_file, 6, 1, source, "media.mp4")
            await until("the sink to stop answering", lambda: sink.chunks > 10, DEADLINE)
            nursery.cancel_scope.cancel()  # the first send gives up (its job stopped, say)
        assert sink.received_bytes == 10 * CHUNK
        sink.dead_after = None
        with trio.fail_after(DEADLINE):
            home = await sender.send_file(6, 1, source, "media.mp4")
    assert digest(Path(home)) == digest(source)
    assert sink.received_bytes == size  # what had arrived did not come again


async def test_a_whole_file_whose_sha256_differs_is_sent_again_from_the_start(tmp_path: Path) -> None:
    source = sample(tmp_path / "media.mp4", 1024 * 1024 + 3)
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, tmp_path / "spool", wrong_sha=1) as sink:
        with trio.fail_after(DEADLINE):
            home = await sender.send_file(8, 1, source, "media.mp4")
    assert digest(Path(home)) == digest(source)
    assert sink.received_bytes == 2 * source.stat().st_size  # all of it again, and hashed again


async def test_a_file_whose_sha256_keeps_differing_is_refused(tmp_path: Path) -> None:
    source = sample(tmp_path / "media.mp4", 300_000)
    spool = tmp_path / "spool"
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, spool, wrong_sha=99) as sink:
        with trio.fail_after(DEADLINE), pytest.raises(FileRefused, match="checksum"):
            await sender.send_file(8, 1, source, "media.mp4")
    assert sink.received_bytes == (1 + CHECKSUM_RETRIES) * source.stat().st_size
    assert not [p for p in spool.rglob("*") if p.is_file()]  # nothing half-checked stays


async def test_a_damaged_chunk_is_asked_again(tmp_path: Path) -> None:
    source = sample(tmp_path / "media.mp4", 1024 * 1024)
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, tmp_path / "spool", damage_chunk=3) as sink:
        with trio.fail_after(DEADLINE):
            home = await sender.send_file(8, 2, source, "media.mp4")
    assert digest(Path(home)) == digest(source)
    assert sink.chunks > source.stat().st_size // CHUNK  # one came twice
    assert sink.received_bytes == source.stat().st_size  # the damaged one was never written


async def test_a_file_offered_again_once_home_is_answered_at_once(tmp_path: Path) -> None:
    source = sample(tmp_path / "media.mp4", 300_000)
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, tmp_path / "spool") as sink:
        with trio.fail_after(DEADLINE):
            first = await sender.send_file(9, 1, source, "media.mp4")
            received = sink.received_bytes
            again = await sender.send_file(9, 1, source, "media.mp4")  # the last answer was lost, say
    assert first == again and sink.received_bytes == received


@pytest.mark.parametrize("name", ["../escape.mp4", ".hidden", "a/b.mp4", "x.part"])
async def test_a_name_outside_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    source = sample(tmp_path / "media.mp4", 1000)
    async with link(tmp_path) as (jobs, _worker, sender), sink_on(jobs, tmp_path / "spool"):
        with trio.fail_after(DEADLINE), pytest.raises(FileRefused, match="bad name"):
            await sender.send_file(1, 1, source, name)
    assert not (tmp_path / "escape.mp4").exists()
    assert not list((tmp_path / "spool").rglob("*")) if (tmp_path / "spool").exists() else True
