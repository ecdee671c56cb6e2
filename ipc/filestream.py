"""Files come home: a joined host's downloader streams a finished file to the main host's spool
over its job channel (the CURVE link), before it reports the download.

```
downloader (FileSender)                         gateway (FileSink)
  FileOffer(name, size)          ───────────▶   opens spool/<job>-<lease>/<name>.part
                                 ◀───────────   FileAck(offset = what it has, until = offset + window)
  FileChunk(offset, data, crc32) ───────────▶   written at offset if it is the next one, CRC checked
  ...                            ◀───────────   FileAck(offset, until)    (once per half a window)
  FileChunk(..., sha256)         ───────────▶   the last one: SHA-256 of the whole file checked,
                                 ◀───────────   renamed to <name>, FileAck(path = where it is)
```

Flow control is the receiver's credit (ZeroMQ guide, "file transfer"): the sender never has more
than FILE_WINDOW_CHUNKS chunks unacknowledged, so memory stays flat on both sides whatever the
size. A chunk that is not the next one is dropped; a sender that hears nothing for a while, or
whose link came back, offers the file again and goes on from the offset the answer names, so a
cut link resumes where it was and never rewrites what arrived. Offering a file the main host
already has whole answers its path at once (the last answer may have been lost).

Speed: a thread hop per chunk cost more than the chunk's checks, so the sender reads, hashes
and encodes all its credit in one hop, and the receiver writes all that has arrived in one and
answers once per half a window. The sender hashes the file as it first reads it, not in a pass of
its own before the first byte leaves: the last chunk carries the SHA-256 (and so does an offer
once the sender has read the whole file). What remains is the CPU of CURVE, the two checksums
and the copies, on each side (`bench/bench_scale_stream.py`).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec
import trio

from ipc._jobs import JobWorker
from ipc.messages import FileAck, FileChunk, FileOffer, Message, encode

__all__ = ["FileRefused", "FileSender", "FileSink", "sha256_of"]

log = logging.getLogger(__name__)

ACK_WAIT_S = 5.0  # no answer for this long: offer again (the link may have dropped what was sent)
READ_BLOCK = 1024 * 1024  # hashing reads
SINK_QUEUE = 64  # file messages read and not yet written, per gateway; past this the reader waits
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # the spool's names are ours, never a title's
PART = ".part"
CHECKSUM_RETRIES = 2  # a whole file whose SHA-256 came out wrong is sent again this many times
FREED_KEPT = 32 * 1024 * 1024  # what malloc keeps of freed memory for reuse (see keep_freed_buffers)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)

Key = tuple[int, int, str]


class FileRefused(RuntimeError):
    """The main host will not take this file (no room, a bad name, a checksum that kept failing)."""


def sha256_of(path: Path, upto: int | None = None) -> hashlib._Hash:
    """The SHA-256 state of the file's first `upto` bytes (all of it by default)."""
    digest = hashlib.sha256()
    left = upto
    with path.open("rb") as f:
        while left is None or left > 0:
            block = f.read(READ_BLOCK if left is None else min(READ_BLOCK, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest


def keep_freed_buffers() -> None:
    """Let malloc keep the stream's freed buffers for the next chunks. A chunk's bytes are copied
    into fresh buffers a few times on each side (ZeroMQ, CURVE, Python); glibc's trim threshold
    follows the largest block freed (about two chunks, less than a window), so it handed them back
    to the kernel at every turn and each came back as page faults: a quarter of the stream's CPU.
    Process-wide, as malloc is; nothing where malloc is not glibc's."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, FREED_KEPT)  # fixed, as glibc's own ceiling: blocks below come from the heap
        mallopt(M_TRIM_THRESHOLD, FREED_KEPT)


# ---- the main host's side --------------------------------------------------------------------


@dataclass
class _Incoming:
    offer: FileOffer
    part: Path
    fd: int
    offset: int
    digest: hashlib._Hash
    answered: int  # the offset the last answer named


@dataclass
class FileSink:
    """Writes offered files into `spool_dir/<job>-<lease>/`; `send(identity, ack)` answers the sender."""

    spool_dir: Path
    send: Callable[[bytes, FileAck], bool]
    window_bytes: int
    max_bytes: int
    room: Callable[[int], bool] = lambda size: True  # would `size` more bytes fit in the spool?
    admit: Callable[[int, int], bool] = lambda job_id, lease: True  # is this lease the job's current one?
    received_bytes: int = 0
    incoming: dict[Key, _Incoming] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keep_freed_buffers()
        self._in, self._out = trio.open_memory_channel[tuple[bytes, FileOffer | FileChunk]](SINK_QUEUE)

    async def received(self, identity: bytes, msg: Message) -> bool:
        """From the job channel's reader: queue a file message (False: not one of ours)."""
        if not isinstance(msg, FileOffer | FileChunk):
            return False
        await self._in.send((identity, msg))
        return True

    async def run(self) -> None:
        """Write what arrives, in order, off the event loop: everything queued in one thread hop (a
        hop per chunk cost more than the chunk's checks and write); then answer each file once."""
        try:
            async for first in self._out:
                batch = []
                for identity, msg in [first, *self._queued()]:
                    if isinstance(msg, FileOffer) and not self.admit(msg.job_id, msg.lease):
                        # The job was taken from that downloader (its host went silent, say): nothing of it is kept.
                        log.info("job %d: refused %s of lease %d, no longer the job's", msg.job_id, msg.name, msg.lease)
                        self.send(identity, self._ack(msg, 0, 0, error="stale lease"))
                    else:
                        batch.append((identity, msg))
                for identity, ack in await trio.to_thread.run_sync(self.handle_all, batch):
                    if not self.send(identity, ack):
                        log.info("job %d: the answer for %s was not delivered (asked again)", ack.job_id, ack.name)
        finally:
            self.close_all()

    def _queued(self) -> list[tuple[bytes, FileOffer | FileChunk]]:
        """The file messages already waiting (at most SINK_QUEUE), without waiting for more."""
        waiting = []
        while True:
            try:
                waiting.append(self._out.receive_nowait())
            except trio.WouldBlock:
                return waiting

    def close_all(self) -> None:
        for incoming in self.incoming.values():
            os.close(incoming.fd)
        self.incoming.clear()

    def handle_all(self, batch: list[tuple[bytes, FileOffer | FileChunk]]) -> list[tuple[bytes, FileAck]]:
        """Messages in order, in a worker thread (one batch at a time: `run` awaits each); the newest
        answer per sender and file, which says all the ones before it did (where the file is)."""
        answers: dict[tuple[bytes, Key], FileAck] = {}
        for identity, msg in batch:
            try:
                ack = self.handle(msg)
            except OSError as exc:  # the disk: the sender offers again later
                log.error("job %d: writing %s failed (%s)", msg.job_id, msg.name, exc)
                continue
            if ack is not None:
                answers[(identity, (msg.job_id, msg.lease, msg.name))] = ack
        return [(identity, ack) for (identity, _), ack in answers.items()]

    def handle(self, msg: FileOffer | FileChunk) -> FileAck | None:
        """One message (in `handle_all`'s worker thread)."""
        if isinstance(msg, FileOffer):
            return self._offered(msg)
        return self._chunk(msg)

    def folder(self, job_id: int, lease: int) -> Path:
        return self.spool_dir / f"{job_id}-{lease}"  # as core.spool.attempt_dir names it

    def _ack(self, msg: FileOffer | FileChunk, offset: int, size: int, *, path: str = "", error: str = "") -> FileAck:
        until = min(size, offset + self.window_bytes)
        return FileAck(
            job_id=msg.job_id, lease=msg.lease, name=msg.name, offset=offset, until=until, path=path, error=error
        )

    def _offered(self, offer: FileOffer) -> FileAck:
        key = (offer.job_id, offer.lease, offer.name)
        if not NAME.fullmatch(offer.name) or offer.name.endswith(PART):
            return self._ack(offer, 0, 0, error="bad name")
        if not 0 <= offer.size <= self.max_bytes:
            return self._ack(offer, 0, 0, error="too big")
        final = self.folder(offer.job_id, offer.lease) / offer.name
        incoming = self.incoming.get(key)
        if incoming is not None and _another_file(incoming.offer, offer):  # the same name: start over
            self._drop(key, remove=True)
            incoming = None
        if incoming is None:
            if final.is_file() and final.stat().st_size == offer.size and key not in self.incoming:
                return self._ack(offer, offer.size, offer.size, path=str(final))  # had it whole already
            incoming = self._open(offer, final)
            if incoming is None:
                return self._ack(offer, 0, 0, error="no room")
        if incoming.offset == offer.size:  # all here (the answer was lost, say): checked with the offer's hash
            return self._finish(key, incoming, offer.sha256)
        if incoming.offset:
            log.info("job %d: %s goes on from %d of %d bytes", offer.job_id, offer.name, incoming.offset, offer.size)
        incoming.answered = incoming.offset
        return self._ack(offer, incoming.offset, offer.size)

    def _open(self, offer: FileOffer, final: Path) -> _Incoming | None:
        part = final.with_name(final.name + PART)
        have = part.stat().st_size if part.is_file() else 0
        if have > offer.size:
            part.unlink()
            have = 0
        if not have and not self.room(offer.size):
            return None
        final.parent.mkdir(parents=True, exist_ok=True)
        # A sink that restarted (the gateway killed) goes on from what is on disk: its hash again.
        digest = sha256_of(part, have) if have else hashlib.sha256()
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        incoming = _Incoming(offer, part, fd, offset=have, digest=digest, answered=have)
        self.incoming[(offer.job_id, offer.lease, offer.name)] = incoming
        if have:
            log.info("job %d: %s resumes at %d of %d bytes", offer.job_id, offer.name, have, offer.size)
        return incoming

    def _chunk(self, chunk: FileChunk) -> FileAck | None:
        key = (chunk.job_id, chunk.lease, chunk.name)
        incoming = self.incoming.get(key)
        if incoming is None or chunk.offset > incoming.offset:
            return None  # not offered (yet), or past a gap (chunks lost with a link): offered again
        if chunk.offset < incoming.offset:  # sent again after a lost answer: say how far we are
            return self._ack(chunk, incoming.offset, incoming.offer.size)
        size = incoming.offer.size
        if zlib.crc32(chunk.data) != chunk.crc32 or chunk.offset + len(chunk.data) > size:
            log.warning("job %d: a chunk of %s at %d came damaged; asked again", chunk.job_id, chunk.name, chunk.offset)
            return self._ack(chunk, incoming.offset, size)
        os.pwrite(incoming.fd, chunk.data, chunk.offset)
        incoming.digest.update(chunk.data)
        incoming.offset += len(chunk.data)
        self.received_bytes += len(chunk.data)
        if incoming.offset == size:
            return self._finish(key, incoming, chunk.sha256)
        if incoming.offset - incoming.answered < self.window_bytes // 2:
            return None  # answered once per half window: fewer wake-ups, and the sender still has credit
        incoming.answered = incoming.offset
        return self._ack(chunk, incoming.offset, size)

    def _finish(self, key: Key, incoming: _Incoming, sha256: str) -> FileAck:
        offer = incoming.offer
        os.fsync(incoming.fd)
        if incoming.digest.hexdigest() != sha256:
            log.warning("job %d: %s arrived whole but its SHA-256 differs; starting over", offer.job_id, offer.name)
            self._drop(key, remove=True)
            return self._ack(offer, 0, offer.size, error="checksum")
        self._drop(key, remove=False)
        final = incoming.part.with_name(offer.name)
        incoming.part.rename(final)
        log.info("job %d: %s is home (%d bytes)", offer.job_id, offer.name, offer.size)
        return self._ack(offer, offer.size, offer.size, path=str(final))

    def _drop(self, key: Key, *, remove: bool) -> None:
        incoming = self.incoming.pop(key)
        os.close(incoming.fd)
        if remove:
            incoming.part.unlink(missing_ok=True)


def _another_file(had: FileOffer, offer: FileOffer) -> bool:
    """Is `offer` another file than the one arriving under its name? (The SHA-256 is known only
    once the sender has read the whole file.)"""
    return had.size != offer.size or bool(had.sha256 and offer.sha256 and had.sha256 != offer.sha256)


# ---- the joined host's side ------------------------------------------------------------------


class FileSender:
    """Streams files home over a JobWorker's connection (`ipc._jobs.JobWorker`)."""

    def __init__(self, jobs: JobWorker, chunk_bytes: int, ack_wait_s: float = ACK_WAIT_S) -> None:
        self.jobs = jobs
        self.chunk_bytes = chunk_bytes
        self.ack_wait_s = ack_wait_s
        self.sent_bytes = 0
        self._latest: dict[Key, FileAck] = {}  # the newest answer per file being sent
        self._answered = trio.Event()
        jobs.on_file = self._on_ack
        keep_freed_buffers()

    async def send_file(self, job_id: int, lease: int, path: Path, name: str) -> str:
        """Stream `path` home as `name`; returns where it is on the main host. Raises FileRefused."""
        size = (await trio.to_thread.run_sync(path.stat)).st_size
        key = (job_id, lease, name)
        self._latest[key] = FileAck(job_id=job_id, lease=lease, name=name, offset=-1, until=-1)
        checksum_failures = 0
        try:
            with path.open("rb") as f:
                source = _Source(f, FileOffer(job_id=job_id, lease=lease, name=name, size=size, sha256=""))
                while True:
                    offered = await self._offer(source, key)
                    answer = offered if offered.path or offered.error else await self._stream(source, key, offered)
                    if answer is None:
                        continue  # the answers stopped: offer again, and go on from where its answer says
                    if answer.error == "checksum" and checksum_failures < CHECKSUM_RETRIES:
                        checksum_failures += 1
                        source.restart()  # the main host dropped what it had: from the start, hashed anew
                        continue
                    if answer.error:
                        raise FileRefused(f"the main host refused {name}: {answer.error}")
                    return answer.path
        finally:
            self._latest.pop(key, None)

    async def _offer(self, source: _Source, key: Key) -> FileAck:
        """Offer until an answer comes (again at once when the link comes back)."""
        while True:
            offer = source.offer()
            self._latest[key] = FileAck(job_id=offer.job_id, lease=offer.lease, name=offer.name, offset=-1, until=-1)
            relinked = self.jobs.relinked
            await self.jobs.socket.send([encode(offer)])
            with trio.move_on_after(self.ack_wait_s):
                while self._latest[key].offset < 0 and not relinked.is_set():
                    await self._wait()
            if self._latest[key].offset >= 0:
                return self._latest[key]
            log.info("job %d: no answer to the offer of %s yet; offering again", offer.job_id, offer.name)

    async def _stream(self, source: _Source, key: Key, ack: FileAck) -> FileAck | None:
        """Send chunks within the credit until the file is home (its last answer) or the answers
        stop (None: offer again, and go on from where the answer to that says)."""
        position, acked = ack.offset, ack.offset
        until = ack.until
        while True:
            relinked = self.jobs.relinked
            if position < until:  # all the credit in one thread hop, then sent
                chunks = await trio.to_thread.run_sync(source.chunks, position, until, self.chunk_bytes)
                for chunk in chunks:
                    await self.jobs.socket.send([chunk])
                self.sent_bytes += until - position
                position = until
            with trio.move_on_after(self.ack_wait_s):
                while self._latest[key].offset <= acked and not self._final(key) and not relinked.is_set():
                    await self._wait()
            latest = self._latest[key]
            if self._final(key):
                return latest
            if latest.offset <= acked:  # silence, or the link came back
                return None
            acked, until = latest.offset, max(until, latest.until)
            position = max(position, acked)

    def _final(self, key: Key) -> bool:
        latest = self._latest[key]
        return bool(latest.path or latest.error)

    async def _wait(self) -> None:
        answered = self._answered
        await answered.wait()

    def _on_ack(self, ack: FileAck) -> None:
        key = (ack.job_id, ack.lease, ack.name)
        latest = self._latest.get(key)
        if latest is None:
            return  # a late answer for a file no longer being sent
        if ack.path or ack.error or ack.offset > latest.offset:
            self._latest[key] = ack
            self._answered.set()
            self._answered = trio.Event()


class _Source:
    """A file being sent: read a batch of chunks at a time, in a worker thread, and hashed as it is
    first read, so that its SHA-256 costs no pass of its own; the last chunk carries it."""

    def __init__(self, file: BinaryIO, offer: FileOffer) -> None:
        self.file = file
        self.template = offer  # its sha256 is filled in once known
        self.restart()

    def restart(self) -> None:
        self.digest = hashlib.sha256()
        self.hashed = 0  # the digest covers the file's bytes up to here

    def offer(self) -> FileOffer:
        """The offer, with the file's SHA-256 once every byte was read (an offer again at the end)."""
        whole = self.hashed == self.template.size
        return msgspec.structs.replace(self.template, sha256=self.digest.hexdigest() if whole else "")

    def chunks(self, start: int, end: int, chunk_bytes: int) -> list[bytes]:
        """The bytes from `start` to `end` as encoded FileChunks (one thread hop a batch)."""
        self._hash_upto(start)  # what the main host had from an earlier sender
        offer, chunks = self.template, []
        for offset in range(start, end, chunk_bytes):
            data = self._read(offset, min(chunk_bytes, end - offset))
            if offset <= self.hashed < offset + len(data):  # read for the first time (not again after a cut)
                self.digest.update(memoryview(data)[self.hashed - offset :])
                self.hashed = offset + len(data)
            chunk = FileChunk(
                job_id=offer.job_id,
                lease=offer.lease,
                name=offer.name,
                offset=offset,
                data=data,
                crc32=zlib.crc32(data),
                sha256=self.digest.hexdigest() if offset + len(data) == offer.size else "",
            )
            chunks.append(encode(chunk))
        return chunks

    def _hash_upto(self, end: int) -> None:
        while self.hashed < end:
            block = self._read(self.hashed, min(READ_BLOCK, end - self.hashed))
            self.digest.update(block)
            self.hashed += len(block)

    def _read(self, offset: int, size: int) -> bytes:
        data = os.pread(self.file.fileno(), size, offset)
        if len(data) != size:
            raise FileRefused(f"{self.template.name} became shorter while it was sent")
        return data
