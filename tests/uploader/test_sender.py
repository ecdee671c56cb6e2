"""The sender's state machine against a real SQLite file, the real send budget and a scripted
Telegram (send_media and send_text only), on trio's autojump clock: an upload that stalls is
retried after UPLOAD_STALL_S; SEND_ATTEMPTS running out fails the file once; a missing spool file
and a bug on one row end that row and never the uploader; rows left "sending" at a restart go
again, a death counts only against a row whose send had begun (not one only claimed, waiting for
the budget), and a row on its way at two deaths is quarantined; a drain lets the sends on their way
finish within its share of SHUTDOWN_GRACE. The gateway's side is the events the
sender pushes (recorded here; tests/gateway/test_job_life.py applies them)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import trio

from core import outbox
from core.config import MIB, Settings, load_settings
from core.db import open_db
from core.payloads import SendMedia, Text
from core.telegram import Media, Progress, SentMedia, SentMessage, TelegramPort, Transient
from ipc.messages import DeliveryFailed, FileMissing, JobDelivered, UploadEvent
from uploader import media
from uploader.sender import DRAIN_SHARE, OutboxSender

CHAT = 7
ADMIN = 9
DEADLINE = 3_600.0  # logical seconds (autojump): a stuck sender fails the test instead of hanging
STALL_S = 60.0
WINDOW = 16  # rows the sender claims at once (SEND_WINDOW)


@dataclass
class ScriptedTelegram:
    """send_media plays `uploads` in turn ("ok", "stall": some bytes then nothing, or an
    exception to raise); send_text answers, or raises `text_errors[text]`."""

    uploads: list[str | Exception] = field(default_factory=list)
    text_errors: dict[str, Exception] = field(default_factory=dict)
    text_delay: float = 0.0  # seconds each send_text takes
    calls: list[tuple[float, str]] = field(default_factory=list)
    upload_limit: int = 2000 * MIB

    async def send_media(
        self, chat_id: int, media: Media, *, progress: Progress | None = None, reply_to: int | None = None
    ) -> SentMedia:
        step = self.uploads.pop(0) if self.uploads else "ok"
        self.calls.append((trio.current_time(), f"media:{step if isinstance(step, str) else type(step).__name__}"))
        if progress is not None:
            progress(10, 100)
        if isinstance(step, Exception):
            raise step
        if step == "stall":
            await trio.sleep_forever()
        await trio.sleep(0.5)
        return SentMedia(chat_id=chat_id, message_id=100 + len(self.calls), file_id=f"F{len(self.calls)}", size=100)

    async def send_text(self, chat_id: int, text: str, **kwargs: Any) -> SentMessage:
        self.calls.append((trio.current_time(), f"text:{text}"))
        await trio.sleep(self.text_delay)
        if text in self.text_errors:
            raise self.text_errors[text]
        return SentMessage(chat_id, 900 + len(self.calls))


@dataclass
class Events:
    """The events PUSH to the gateway, recorded."""

    sent: list[UploadEvent] = field(default_factory=list)

    async def send(self, event: UploadEvent) -> None:
        self.sent.append(event)


@dataclass
class Bed:
    settings: Settings
    db: Any
    telegram: ScriptedTelegram
    events: Events
    spool: Path

    def sender(self, settings: Settings | None = None) -> OutboxSender:
        return OutboxSender(settings or self.settings, self.db, cast(TelegramPort, self.telegram), self.events)  # type: ignore[arg-type]

    def job(self) -> int:
        now = 0.0
        return int(
            self.db.execute(
                "INSERT INTO jobs (user_id, chat_id, url, request_key, state, created_at, updated_at)"
                " VALUES (?, ?, 'https://x/v', 'k', 'uploading', ?, ?)",
                [CHAT, CHAT, now, now],
            ).lastrowid
            or 0
        )

    def file(self, job_id: int, exists: bool = True) -> int:
        folder = self.spool / f"{job_id}-1"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "media.mp4"
        if exists:
            path.write_bytes(b"x" * 100)
        payload = SendMedia(
            kind="video", path=str(path), media_key=f"K{job_id}", format_key="v:720", spool_dir=str(folder)
        )
        return outbox.enqueue(
            self.db, CHAT, payload, priority=outbox.PRIORITY_FILE, role=outbox.ROLE_FILE, job_id=job_id
        )

    def state(self, row: int) -> tuple[str, str | None, str | None]:
        return tuple(self.db.execute("SELECT state, error_class, error FROM outbox WHERE id = ?", [row]).fetchone())


class LogicalTime:
    """`time.time()` for the outbox's due times, running with trio's (autojump) clock."""

    EPOCH = 1_800_000_000.0

    def time(self) -> float:
        return self.EPOCH + trio.current_time()


@pytest.fixture
async def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bed]:
    for module in (outbox, media):
        monkeypatch.setattr(module, "time", LogicalTime())
    settings = load_settings(
        environ={
            "DATA_DIR": str(tmp_path),
            "UPLOAD_STALL_S": str(STALL_S),
            "SEND_ATTEMPTS": "3",
            "ADMIN_IDS": str(ADMIN),
            "TG_CHAT_RATE": "100",
            "TG_CHAT_BURST": "100",
        },
        env_file=None,
    )
    db = open_db(settings.db_path, busy_timeout=5)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (?, 0, 0)", [CHAT])
    try:
        yield Bed(settings, db, ScriptedTelegram(), Events(), settings.spool_dir)
    finally:
        db.close()


async def run_until(bed: Bed, done: Callable[[], bool], settings: Settings | None = None) -> None:
    """Run the sender until `done()` holds (checked as the logical clock runs), then stop it: as
    a kill -9 would, cancelled where it stands (a cancelled send writes nothing)."""
    sender = bed.sender(settings)
    draining = trio.Event()
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run, draining, WINDOW)
            while not done():
                await trio.sleep(0.25)
                sender.wake.set()
            nursery.cancel_scope.cancel()


async def test_an_upload_that_stalls_is_retried_after_upload_stall_s_and_then_sent(bed, autojump_clock):
    job = bed.job()
    row = bed.file(job)
    bed.telegram.uploads = ["stall", "ok"]
    await run_until(bed, lambda: bed.state(row)[0] == "sent")
    (first, _), (second, _) = bed.telegram.calls
    assert STALL_S <= second - first <= STALL_S + 5  # noticed within a stall check, then sent again at once
    [event] = bed.events.sent
    assert isinstance(event, JobDelivered) and event.job_id == job and event.upload_s == pytest.approx(0.5, abs=0.1)
    assert not (bed.spool / f"{job}-1").exists()  # the spool folder goes with the last part


async def test_send_attempts_running_out_fails_the_file_once(bed, autojump_clock):
    job = bed.job()
    row = bed.file(job)
    bed.telegram.uploads = [Transient("502 Bad Gateway")] * 10
    await run_until(bed, lambda: bed.state(row)[0] == "failed")
    assert [c for _, c in bed.telegram.calls] == ["media:Transient"] * bed.settings.send_attempts
    assert bed.state(row)[:2] == ("failed", "network")
    [event] = bed.events.sent
    assert isinstance(event, DeliveryFailed) and event.job_id == job and event.failure.cls == "network"


async def test_a_missing_spool_file_ends_its_row_and_the_job_downloads_again(bed, autojump_clock):
    job = bed.job()
    row = bed.file(job, exists=False)
    text = outbox.enqueue(bed.db, CHAT, Text(text="after it"), priority=outbox.PRIORITY_ANSWER)
    await run_until(bed, lambda: bed.state(row)[0] != "sending" and bed.state(text)[0] == "sent")
    assert bed.state(row)[0] == "dropped" and "file missing" in (bed.state(row)[2] or "")
    assert [type(e) for e in bed.events.sent] == [FileMissing] and bed.events.sent[0].job_id == job
    assert not any(c.startswith("media") for _, c in bed.telegram.calls)  # nothing half-sent


async def test_a_bug_on_one_row_ends_that_row_and_never_the_uploader(bed, autojump_clock):
    job = bed.job()
    broken_file = bed.file(job)
    bed.telegram.uploads = [RuntimeError("a bug in an adapter")]
    broken_text = outbox.enqueue(bed.db, CHAT, Text(text="first"), priority=outbox.PRIORITY_ANSWER)
    bed.telegram.text_errors["first"] = ValueError("another bug")
    fine = outbox.enqueue(bed.db, CHAT, Text(text="second"), priority=outbox.PRIORITY_ANSWER)
    await run_until(bed, lambda: bed.state(fine)[0] == "sent" and bed.state(broken_file)[0] == "failed")
    assert bed.state(broken_text)[0] == "failed" and "ValueError" in (bed.state(broken_text)[2] or "")
    assert bed.state(broken_file)[:2] == ("failed", "internal")
    [event] = bed.events.sent
    assert isinstance(event, DeliveryFailed) and event.job_id == job


async def test_rows_left_sending_go_again_and_one_in_flight_at_two_deaths_is_quarantined(bed, autojump_clock):
    job = bed.job()
    row = bed.file(job)
    text = outbox.enqueue(bed.db, CHAT, Text(text="hello"), priority=outbox.PRIORITY_ANSWER)
    for item in outbox.claim(bed.db, 10):  # both on their way when the uploader died
        outbox.mark_started(bed.db, item.id)
    assert media.requeue_interrupted(bed.db, bed.settings) == (2, [])
    assert bed.state(row)[0] == bed.state(text)[0] == "pending"
    [claimed] = outbox.claim(bed.db, 10, files=True)  # the file again on its way, and a second death
    outbox.mark_started(bed.db, claimed.id)
    requeued, events = media.requeue_interrupted(bed.db, bed.settings)
    assert requeued == 0 and bed.state(row)[:2] == ("failed", "internal")
    assert [(type(e), e.job_id) for e in events] == [(DeliveryFailed, job)]
    admins = bed.db.execute("SELECT payload FROM outbox WHERE chat_id = ? AND role = 'alert'", [ADMIN]).fetchall()
    assert len(admins) == 1 and f" {claimed.id})" in admins[0][0]  # the admins are told, once
    await run_until(bed, lambda: bed.state(text)[0] == "sent")
    assert not any(c.startswith("media") for _, c in bed.telegram.calls)  # never sent a third time


async def test_at_two_deaths_only_the_rows_whose_send_had_begun_count(bed, autojump_clock):
    """A window of rows claimed and two of them on their way, at each of two deaths: a row that
    was only waiting for the send budget goes again uncounted and is sent once; a row on its way
    counts the death (it may have arrived: it may come twice), and one on its way at both deaths
    is quarantined."""
    narrow = dataclasses.replace(bed.settings, tg_global_rate=2.0)  # two sends in flight at most
    texts = {
        outbox.enqueue(bed.db, CHAT, Text(text=f"hello {n}"), priority=outbox.PRIORITY_ANSWER): f"text:hello {n}"
        for n in range(3 * WINDOW)
    }
    bed.telegram.text_delay = 1_000.0  # every call is on its way long enough to die during it
    on_its_way: list[set[str]] = []
    for _ in range(2):
        before = len(bed.telegram.calls)
        await run_until(bed, lambda: len(bed.telegram.calls) >= before + 2, narrow)  # noqa: B023
        on_its_way.append({call for _, call in bed.telegram.calls[before:]})
        claimed = bed.db.execute("SELECT count(*) FROM outbox WHERE state = 'sending'").fetchone()[0]
        assert (claimed, len(on_its_way[-1])) == (WINDOW, 2)  # many claimed, two begun: the death
        media.requeue_interrupted(bed.db, bed.settings)
    both = on_its_way[0] & on_its_way[1]

    bed.telegram.text_delay = 0.0
    unfinished = "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
    await run_until(bed, lambda: not bed.db.execute(unfinished).fetchone()[0])
    calls = Counter(call for _, call in bed.telegram.calls)
    for row, text in texts.items():
        deaths = sum(text in calls_then for calls_then in on_its_way)
        state, interrupted, attempts = bed.db.execute(
            "SELECT state, interrupted, attempts FROM outbox WHERE id = ?", [row]
        ).fetchone()
        if text in both:  # quarantined: never sent a third time
            assert (state, interrupted, calls[text]) == ("failed", 2, 2), text
        else:  # a row never begun is sent once, and counts neither a death nor an attempt
            assert (state, interrupted, calls[text], attempts) == ("sent", deaths, deaths + 1, deaths + 1), text
    alerts = bed.db.execute("SELECT count(*) FROM outbox WHERE chat_id = ? AND role = 'alert'", [ADMIN]).fetchone()
    assert alerts[0] == (1 if both else 0)


async def _drain_during_a_send(bed: Bed, takes: float) -> tuple[int, float]:
    """A text whose send takes `takes` s; the drain comes while it is on its way. Returns the row
    and how long after the drain the sender returned."""
    bed.telegram.text_delay = takes
    row = outbox.enqueue(bed.db, CHAT, Text(text="on its way"), priority=outbox.PRIORITY_ANSWER)
    sender, draining = bed.sender(), trio.Event()
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run, draining, 16)
            while not bed.telegram.calls:
                await trio.sleep(0.01)
            draining.set()
            began = trio.current_time()
            sender.wake.set()
    return row, trio.current_time() - began


async def test_a_drain_lets_a_send_on_its_way_finish_and_records_it(bed, autojump_clock):
    row, took = await _drain_during_a_send(bed, takes=2.0)
    assert bed.state(row)[0] == "sent"  # not cut mid-call: it would go again after the restart
    assert took < bed.settings.shutdown_grace * DRAIN_SHARE


async def test_a_drain_cuts_a_send_that_outlasts_its_share_of_the_grace(bed, autojump_clock):
    row, took = await _drain_during_a_send(bed, takes=3_000.0)
    assert bed.state(row)[0] == "sending"  # cut: it goes again (or is quarantined) at the next start
    assert took == pytest.approx(bed.settings.shutdown_grace * DRAIN_SHARE, abs=0.1)
