"""The outbox on a real SQLite file: a status message whose changes coalesce, edits that wait for
their message, files that wait for the job's earlier parts and the playlist's earlier entries,
claims that split uploads from the rest, and the pruning of old rows."""

from __future__ import annotations

import json
import time

import pytest

from core import outbox
from core.db import open_db
from core.payloads import Delete, Edit, SendMedia, Text

CHAT = 7


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "bot.sqlite3", busy_timeout=5)
    now = time.time()
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (?, ?, ?)", [CHAT, now, now])
    try:
        yield db
    finally:
        db.close()


def job(db, **cols) -> int:
    now = time.time()
    fields = {"user_id": CHAT, "chat_id": CHAT, "url": "u", "request_key": "k", "created_at": now, "updated_at": now}
    fields.update(cols)
    names = ", ".join(fields)
    return int(
        db.execute(
            f"INSERT INTO jobs ({names}) VALUES ({', '.join('?' * len(fields))})", list(fields.values())
        ).lastrowid
    )


def rows(db) -> list[tuple]:
    return db.execute("SELECT id, kind, state, priority, role, payload FROM outbox ORDER BY id").fetchall()


def test_a_pending_status_is_rewritten_and_a_sent_one_gets_one_coalesced_edit(db):
    status = outbox.enqueue(db, CHAT, Text(text="queued"), role=outbox.ROLE_STATUS)
    assert outbox.change_message(db, status, CHAT, "choose", None, priority=outbox.PRIORITY_ANSWER) == status
    assert json.loads(rows(db)[0][5])["text"] == "choose"  # still one row: nothing extra to send
    [claimed] = outbox.claim(db, 10)
    outbox.mark_sent(db, claimed.id, message_id=99)
    first = outbox.change_message(
        db, status, CHAT, "10 %", None, priority=outbox.PRIORITY_PROGRESS, role=outbox.ROLE_PROGRESS
    )
    again = outbox.change_message(db, status, CHAT, "cancelled", None, priority=outbox.PRIORITY_ANSWER)
    assert first == again  # the second change rewrote the first pending edit
    edit = rows(db)[-1]
    assert (edit[1], edit[3], edit[4], json.loads(edit[5])["text"]) == ("edit", 1, "status", "cancelled")
    [item] = outbox.claim(db, 10)
    assert isinstance(item.payload, Edit) and item.target_message_id == 99


def test_an_edit_waits_for_its_message_and_is_dropped_if_the_message_never_went(db):
    status = outbox.enqueue(db, CHAT, Text(text="queued"))
    outbox.enqueue(db, CHAT, Edit(text="later"), target_id=status)
    [first] = outbox.claim(db, 10)
    assert first.id == status  # the edit is not due while its message is unsent
    assert outbox.claim(db, 10) == []
    outbox.mark_failed(db, status, "blocked")
    assert outbox.claim(db, 10) == []
    assert [r[2] for r in rows(db)] == ["failed", "dropped"]


def test_a_later_change_of_a_message_waits_while_an_earlier_one_is_on_its_way(db):
    """Two edits of one message in flight at once may land in either order, and the chat would
    keep the older text (a playlist's "2/3" after its "3/3 sent")."""
    status = outbox.enqueue(db, CHAT, Text(text="queued"))
    outbox.claim(db, 10)
    outbox.mark_sent(db, status, message_id=99)
    progress = outbox.change_message(
        db, status, CHAT, "2/3", None, priority=outbox.PRIORITY_PROGRESS, role=outbox.ROLE_PROGRESS
    )
    [first] = outbox.claim(db, 10)
    assert first.id == progress  # on its way now
    final = outbox.change_message(db, status, CHAT, "3/3 sent", None, priority=outbox.PRIORITY_ANSWER)
    assert final != progress and outbox.claim(db, 10) == []  # the final waits for the one before
    outbox.mark_sent(db, progress)
    [second] = outbox.claim(db, 10)
    assert second.id == final and isinstance(second.payload, Edit) and second.payload.text == "3/3 sent"


def test_removing_an_unsent_status_costs_nothing_and_a_sent_one_costs_one_delete(db):
    status = outbox.enqueue(db, CHAT, Text(text="queued"))
    assert outbox.remove_message(db, status, CHAT) is None
    assert [r[2] for r in rows(db)] == ["dropped"]
    sent = outbox.enqueue(db, CHAT, Text(text="queued"))
    [item] = outbox.claim(db, 10)
    outbox.mark_sent(db, item.id, message_id=5)
    delete = outbox.remove_message(db, sent, CHAT)
    [item] = outbox.claim(db, 10)
    assert item.id == delete and isinstance(item.payload, Delete) and item.target_message_id == 5


def test_a_jobs_parts_go_in_order_and_a_playlist_entry_waits_for_the_one_before(db):
    playlist = job(db, state="uploading")
    first = job(db, parent_id=playlist, item_index=1, state="downloading")
    second = job(db, parent_id=playlist, item_index=2, state="uploading")
    part = lambda n, j: SendMedia(kind="video", path=f"/spool/{j}/part{n}.mp4", part=n, parts=2)  # noqa: E731
    a1 = outbox.enqueue(db, CHAT, part(1, second), job_id=second, priority=outbox.PRIORITY_FILE)
    a2 = outbox.enqueue(db, CHAT, part(2, second), job_id=second, priority=outbox.PRIORITY_FILE)
    assert outbox.claim(db, 10, files=True) == []  # entry 1 is still downloading
    db.execute("UPDATE jobs SET state = 'done', finished_at = 1 WHERE id = ?", [first])
    [item] = outbox.claim(db, 10, files=True)
    assert item.id == a1  # part 2 waits for part 1
    outbox.mark_sent(db, a1, message_id=1)
    assert [i.id for i in outbox.claim(db, 10, files=True)] == [a2]


def test_uploads_are_claimed_one_per_chat_and_resends_with_the_rest(db):
    for chat in (CHAT, CHAT, 8):
        outbox.enqueue(db, chat, SendMedia(kind="video", path="/spool/1/video.mp4"), priority=outbox.PRIORITY_FILE)
    outbox.enqueue(db, CHAT, SendMedia(kind="video", file_id="AAA"), priority=outbox.PRIORITY_FILE)
    uploads = outbox.claim(db, 10, files=True)
    assert sorted(i.chat_id for i in uploads) == [CHAT, 8]  # the second file of CHAT waits its turn
    [resend] = outbox.claim(db, 10, files=False)
    assert isinstance(resend.payload, SendMedia) and resend.payload.file_id == "AAA"
    assert outbox.claim(db, 10, files=True, busy_chats=[CHAT]) == []


def test_old_finished_rows_are_pruned_but_not_those_still_pointed_at(db):
    old = time.time() - 30 * 86400
    kept = outbox.enqueue(db, CHAT, Text(text="status of a running job"))
    gone = outbox.enqueue(db, CHAT, Text(text="an old answer"))
    job(db, state="downloading", status_outbox_id=kept)
    db.execute("UPDATE outbox SET state = 'sent', sent_at = ?", [old])
    fresh = outbox.enqueue(db, CHAT, Text(text="new"))
    assert outbox.prune(db, keep_days=7) == 1
    assert [r[0] for r in rows(db)] == [kept, fresh]
    assert gone not in [r[0] for r in rows(db)]


def test_the_uploads_claim_reads_an_index_of_waiting_uploads_not_every_pending_row(db):
    # A flood of cache hits queues thousands of re-sends; the uploader looks for uploads on every
    # turn, so that look must not read every pending row's payload.
    plan = db.execute(f"EXPLAIN QUERY PLAN {outbox._CLAIMS[True]}", [time.time(), 4]).fetchall()
    assert any("USING INDEX outbox_uploads" in row[-1] for row in plan), plan
    for chat in range(100, 400):
        outbox.enqueue(db, chat, SendMedia(kind="video", file_id="F"), priority=outbox.PRIORITY_FILE)
    upload = outbox.enqueue(db, CHAT, SendMedia(kind="video", path="/spool/1/a.mp4"), priority=outbox.PRIORITY_FILE)
    assert [item.id for item in outbox.claim(db, 4, files=True)] == [upload]


def quiet_status(db, job_id: int, delay: float = 1.5) -> int:
    return outbox.enqueue(
        db,
        CHAT,
        Text(text="queued"),
        priority=outbox.PRIORITY_STATUS,
        role=outbox.ROLE_QUIET_STATUS,
        job_id=job_id,
        not_before=time.time() + delay,
    )


def a_file(db, job_id: int) -> int:
    payload = SendMedia(kind="video", path="/spool/a.mp4")
    return outbox.enqueue(db, CHAT, payload, priority=outbox.PRIORITY_FILE, role=outbox.ROLE_FILE, job_id=job_id)


def test_a_quiet_status_waits_its_delay_and_is_dropped_unsent_once_its_file_is_ready(db):
    quick, slow = job(db), job(db)
    quick_status, slow_status = quiet_status(db, quick), quiet_status(db, slow)
    assert outbox.claim(db, 10, files=False) == []  # not due yet
    assert outbox.next_due(db) == pytest.approx(time.time() + 1.5, abs=0.5)
    a_file(db, quick)
    later = time.time() + 2
    [item] = outbox.claim(db, 10, now=later, files=False)
    assert (item.id, item.role) == (slow_status, outbox.ROLE_QUIET_STATUS)
    states = dict(db.execute("SELECT id, state FROM outbox WHERE kind = 'text'").fetchall())
    assert states == {quick_status: "dropped", slow_status: "sending"}
    assert outbox.remove_message(db, quick_status, CHAT) is None  # never shown: nothing to delete


def test_an_answer_makes_a_quiet_status_loud_and_due_at_once(db):
    status = quiet_status(db, job(db), delay=60)
    outbox.change_message(db, status, CHAT, "12 %", None, priority=outbox.PRIORITY_PROGRESS, role=outbox.ROLE_PROGRESS)
    assert outbox.claim(db, 10) == []  # progress only rewrites it: still quiet
    outbox.change_message(db, status, CHAT, "failed", None, priority=outbox.PRIORITY_ANSWER)
    [item] = outbox.claim(db, 10)
    assert isinstance(item.payload, Text)
    assert (item.role, item.priority, item.payload.text) == (outbox.ROLE_STATUS, outbox.PRIORITY_ANSWER, "failed")


def test_no_file_of_a_job_is_claimed_while_its_quiet_status_is_on_its_way(db):
    showing, other = job(db), job(db)
    mine, theirs = a_file(db, showing), a_file(db, other)
    assert [i.id for i in outbox.claim(db, 5, files=True, busy_jobs={showing})] == [theirs]
    assert [i.id for i in outbox.claim(db, 5, files=True)] == [mine]


def test_quiet_statuses_take_no_more_than_their_share_of_a_claim_and_answers_still_go(db):
    statuses = [quiet_status(db, job(db), delay=0) for _ in range(3)]
    answer = outbox.enqueue(db, CHAT, Text(text="hello"))
    claimed = outbox.claim(db, 10, files=False, quiet_limit=1)
    assert [i.id for i in claimed] == [answer, statuses[0]]  # by priority: the answer first
    pending = [r[0] for r in db.execute("SELECT id FROM outbox WHERE state = 'pending'").fetchall()]
    assert pending == statuses[1:]


def test_a_quiet_status_shows_while_its_file_is_uploading(db):
    """A file on its way may take long (a big one, a slow uplink): its status still shows, with
    its cancel button; a file waiting or sent makes it moot."""
    uploading, waiting = job(db), job(db)
    statuses = {uploading: quiet_status(db, uploading), waiting: quiet_status(db, waiting)}
    going = a_file(db, uploading)
    db.execute("UPDATE outbox SET state = 'sending' WHERE id = ?", [going])
    a_file(db, waiting)
    assert outbox.moot_statuses(db, [(statuses[j], j) for j in statuses]) == {statuses[waiting]}
