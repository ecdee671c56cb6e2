"""The message schema: every type round-trips; bad bytes never raise, are dropped and logged once."""

from __future__ import annotations

import logging
import random

import msgspec
import pytest

from core.failures import ErrorClass, Failure
from ipc import messages
from ipc.messages import (
    AlertRaised,
    BreakerState,
    Credit,
    DeliveryFailed,
    DownloadedFile,
    Drain,
    Echo,
    FileMissing,
    FormatChoice,
    HealthQuery,
    Heartbeat,
    HistogramSample,
    JobAssign,
    JobCancel,
    JobClaim,
    JobDelivered,
    JobDownloaded,
    JobFailed,
    JobHandBack,
    JobProbed,
    JobProgress,
    Message,
    Metrics,
    MetricSample,
    OutboxNotice,
    Probe,
    ProcessInfo,
    ProcessTable,
    Ready,
    ReportAck,
    RpcReply,
    RpcRequest,
    WorkerJobs,
    decode,
    drop_counts,
    encode,
)

EXAMPLES: list[Message] = [
    Ready(name="gateway", pid=10),
    Heartbeat(name="downloader-1", pid=11, sent_at=1.5, busy=1),
    Drain(),
    ProcessTable(
        processes=[ProcessInfo(name="uploader", pid=12, restarts=2, state="running", started_at=3.0, last_exit="-9")],
        sent_at=4.0,
    ),
    Credit(worker="downloader-1", slots=1),
    JobAssign(
        lease=1,
        task="download",
        job_id=1,
        url="https://youtu.be/x",
        chat_id=-100,
        user_id=5,
        format_key="best",
        attempt=2,
    ),
    JobProgress(job_id=1, lease=2, worker="downloader-1", phase="downloading", done_bytes=5, total_bytes=10, speed=1.5),
    JobProbed(
        job_id=1,
        lease=1,
        worker="downloader-1",
        media_key="Youtube:x",
        probe=Probe(kind="video", title="T", choices=[FormatChoice(key="v:720", height=720, size=10)]),
    ),
    JobFailed(job_id=1, lease=1, worker="w", failure=Failure(ErrorClass.TOO_LARGE, "raw", values={"limit": 50})),
    JobDownloaded(
        job_id=1,
        lease=2,
        worker="downloader-1",
        media_key="Youtube:x",
        format_key="v:720",
        files=[DownloadedFile(path="/spool/1-2/media.mp4", kind="video", size=10, part=1, parts=2)],
        folder="/spool/1-2",
        took_s=0.5,
    ),
    JobClaim(job_id=1, lease=2, worker="downloader-1"),
    JobHandBack(job_id=1, lease=2, worker="downloader-1"),
    BreakerState(platform="Youtube", state="open", failures=5, opened_at=1.0, probe_job=None, updated_at=2.0),
    ReportAck(job_id=1, lease=2, report="JobDownloaded", accepted=False),
    JobCancel(job_id=1, lease=2, why="cancelled"),
    JobDelivered(job_id=1, upload_s=0.25),
    DeliveryFailed(job_id=1, failure=Failure(ErrorClass.BLOCKED, "403")),
    FileMissing(job_id=1, reason="no such file"),
    AlertRaised(name="downloader-1", kind="disk", text_key="alert_disk_full", values={"path": "/x"}),
    WorkerJobs(worker="downloader-1", jobs=[(1, 2), (3, 1)], sent_at=1.0),
    OutboxNotice(item_id=77),
    RpcRequest(req_id=1, call=HealthQuery()),
    RpcReply(req_id=1, ok=False, error="unknown method"),
    RpcReply(req_id=2, ok=True, result=Echo(text="سلام")),
    Metrics(
        name="gateway",
        pid=10,
        sent_at=5.0,
        samples=[MetricSample("jobs", ("Youtube", "done"), 3.0)],
        histograms=[HistogramSample("upload_seconds", (), (1, 0, 2), 7.5)],
    ),
    AlertRaised(name="downloader-1", kind="disk", text_key="alert_disk_full", values={"path": "/srv"}, sent_at=1.0),
]


def raw(**fields: object) -> bytes:
    return msgspec.msgpack.encode(fields)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_with_tag_and_version(msg):
    data = encode(msg)
    assert decode(data) == msg
    fields = msgspec.msgpack.decode(data)
    assert fields["t"] == type(msg).__name__ and fields["v"] == msg.v


def test_messages_are_frozen():
    with pytest.raises(AttributeError):
        Ready(name="a", pid=1).pid = 2  # type: ignore[misc]


def test_a_tolerant_reader_ignores_fields_it_does_not_know():
    data = raw(t="OutboxNotice", v=1, item_id=3, priority="high")
    assert decode(data) == OutboxNotice(item_id=3)


def test_a_job_assignment_of_the_old_version_is_dropped():
    old = raw(t="JobAssign", v=1, job_id=1, url="u", chat_id=1, user_id=1, format_id="best", attempt=1)
    assert decode(old) is None


@pytest.mark.parametrize(
    ("problem", "data"),
    [
        ("malformed", b"\xc1\x00garbage"),
        ("unknown tag", raw(t="Teleport", v=1, to="mars")),
        ("wrong version", raw(t="Ready", v=2, name="a", pid=1)),
        ("wrong version", raw(t="Ready", v=9, name=1)),  # a future shape: the version is what matters
        ("invalid fields", raw(t="Ready", v=1, name="a", pid="one")),
        ("invalid fields", raw(t="Ready", v=1, name="a")),
        ("not a message", msgspec.msgpack.encode([1, 2, 3])),
        ("not a message", raw(kind="Ready")),
    ],
)
def test_bad_bytes_are_dropped_counted_and_logged_once(problem, data, caplog):
    before = drop_counts().get(problem, 0)
    messages._logged.clear()
    with caplog.at_level(logging.WARNING, logger="ipc.messages"):
        assert decode(data) is None
        assert decode(data) is None
    assert drop_counts()[problem] == before + 2
    warnings = [r for r in caplog.records if r.name == "ipc.messages"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_decode_never_raises_on_random_bytes():
    rng = random.Random(2)
    good = [encode(m) for m in EXAMPLES]
    for _ in range(3000):
        sample = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 4)):  # flip, cut or extend
            action = rng.randrange(3)
            if action == 0 and sample:
                sample[rng.randrange(len(sample))] = rng.randrange(256)
            elif action == 1:
                del sample[rng.randrange(len(sample) + 1) :]
            else:
                sample += rng.randbytes(rng.randint(1, 8))
        result = decode(bytes(sample))
        assert result is None or type(result) in {type(m) for m in EXAMPLES}
    for _ in range(3000):
        decode(rng.randbytes(rng.randint(0, 64)))  # must not raise, whatever it returns
