"""A job's state machine against a real SQLite file: every move tried from every state, with the
lease it holds and with a stale one; a move either happens as the table says or changes nothing."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest
import sqlite_utils

from core import jobstates
from core.config import load_settings
from core.db import open_db
from core.jobstates import FINAL, TABLE, JobState, Move, allowed, sql_in
from core.schema import JOB_STATES

LEASE = 5
STALE = LEASE - 1

Call = Callable[[sqlite_utils.Database, int, int], bool]
CALLS: dict[Move, Call] = {
    Move.DISPATCH_PROBE: lambda db, j, lease: jobstates.dispatch(db, j, "probe") is not None,
    Move.DISPATCH_DOWNLOAD: lambda db, j, lease: jobstates.dispatch(db, j, "download") is not None,
    Move.CLAIM_FILE: lambda db, j, lease: jobstates.claim_file(db, j, lease),
    Move.PROBED: lambda db, j, lease: jobstates.probed(db, j, lease, "Youtube:x"),
    Move.DOWNLOADED: lambda db, j, lease: jobstates.downloaded(db, j, lease, media_key="Youtube:x", file_path="/f"),
    Move.RETRY: lambda db, j, lease: jobstates.retry(db, j, lease, not_before=0.0, error_class="network", error="e"),
    Move.HAND_BACK: lambda db, j, lease: jobstates.hand_back(db, j, lease),
    Move.RECLAIM: lambda db, j, lease: jobstates.reclaim(db, j, lease),
    Move.ASK: lambda db, j, lease: jobstates.ask(db, j),
    Move.CHOSEN: lambda db, j, lease: jobstates.chosen(db, j, "v:720"),
    Move.FROM_CACHE: lambda db, j, lease: jobstates.from_cache(db, j, "video", "title"),
    Move.EXPAND: lambda db, j, lease: jobstates.expand(db, j, "a playlist", '{"playlist": 2}'),
    Move.REDOWNLOAD: lambda db, j, lease: jobstates.redownload(db, j, "the file is gone"),
    Move.DELIVERED: lambda db, j, lease: jobstates.delivered(db, j, upload_s=0.5),
    Move.FAIL: lambda db, j, lease: jobstates.fail(db, j, error_class="internal", error="e", lease=lease),
    Move.CANCEL: lambda db, j, lease: jobstates.cancel(db, [j]) == 1,
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite_utils.Database]:
    settings = load_settings(environ={"DATA_DIR": str(tmp_path_factory.mktemp("data"))}, env_file=None)
    db = open_db(settings.db_path, busy_timeout=5)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (1, 0, 0)")
    try:
        yield db
    finally:
        db.close()


def job_in(db: sqlite_utils.Database, state: JobState) -> int:
    now = time.time()
    return int(
        db.execute(
            "INSERT INTO jobs (user_id, chat_id, url, request_key, state, lease, attempts, created_at, updated_at,"
            " finished_at) VALUES (1, 1, 'u', 'k', ?, ?, 1, ?, ?, ?)",
            [state.value, LEASE, now, now, now if state in FINAL else None],
        ).lastrowid
        or 0
    )


def state_of(db: sqlite_utils.Database, job_id: int) -> tuple[str, float | None]:
    row = db.execute("SELECT state, finished_at FROM jobs WHERE id = ?", [job_id]).fetchone()
    return row[0], row[1]


def test_every_move_has_its_function_and_the_states_are_the_schemas():
    assert set(CALLS) == set(Move) == set(TABLE)
    assert tuple(JobState) == JOB_STATES  # the enum and the shipped CHECK constraint agree
    assert not any(s in FINAL for rule in TABLE.values() for s in rule.sources)  # a final state never moves


@pytest.mark.parametrize(("move", "state"), list(itertools.product(Move, JobState)), ids=str)
def test_each_move_from_each_state_happens_exactly_as_the_table_says(db, move, state):
    job_id = job_in(db, state)
    moved = CALLS[move](db, job_id, LEASE)
    after, finished_at = state_of(db, job_id)
    if allowed(move, state):
        assert moved, f"{move} from {state} should move"
        assert after == TABLE[move].target
        assert (finished_at is not None) == (after in FINAL)
    else:
        assert not moved, f"{move} from {state} must be refused"
        assert after == state


LEASED = [m for m in Move if TABLE[m].leased or m is Move.FAIL]  # a failure may name its lease


@pytest.mark.parametrize(("move", "state"), list(itertools.product(LEASED, JobState)), ids=str)
def test_a_stale_lease_moves_nothing(db, move, state):
    """A worker the job was taken from (its lease is old) cannot move it, from any state."""
    job_id = job_in(db, state)
    assert not CALLS[move](db, job_id, STALE)
    assert state_of(db, job_id)[0] == state


def test_a_leased_move_refuses_to_run_without_its_lease(db):
    job_id = job_in(db, JobState.DOWNLOADING)
    for move, rule in TABLE.items():
        if rule.leased:
            with pytest.raises(ValueError, match="needs the lease"):
                jobstates._apply(db, [job_id], move)
    assert state_of(db, job_id)[0] == JobState.DOWNLOADING


def test_dispatch_takes_a_new_lease_and_an_attempt_and_a_hand_back_returns_the_attempt(db):
    job_id = job_in(db, JobState.QUEUED)
    assert jobstates.dispatch(db, job_id, "download") == (LEASE + 1, 2)
    assert not jobstates.reclaim(db, job_id, LEASE)  # the old lease is stale now
    assert jobstates.hand_back(db, job_id, LEASE + 1)
    assert db.execute("SELECT state, lease, attempts FROM jobs WHERE id = ?", [job_id]).fetchone() == (
        "queued",
        LEASE + 1,
        1,
    )


def test_cancel_moves_only_the_jobs_still_active(db):
    ids = [job_in(db, s) for s in JobState]
    assert jobstates.cancel(db, ids) == len(jobstates.ACTIVE)
    assert {state_of(db, j)[0] for j in ids} == {"cancelled", "done", "failed"}


def test_state_lists_for_read_queries():
    assert sql_in(JobState.PROBING, JobState.DOWNLOADING) == "('probing', 'downloading')"
    assert jobstates.sql_is(JobState.DONE) == "'done'"
