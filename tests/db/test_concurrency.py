"""Two real processes writing the same database at once: no "database is locked", nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.db import open_db, schema_version
from core.schema import LATEST_VERSION
from tests.support.paths import ROOT

ROUNDS = 3000  # per process; each round is 4 transactions, 3 of them read-then-write
BUSY_TIMEOUT = 10.0
DEADLINE = 60.0  # seconds for the whole run; the rounds take a few seconds on a busy 2-core box


def start_writer(db_path: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.db.writer", str(db_path), name, str(ROUNDS), str(BUSY_TIMEOUT)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """The next stdout line, or fail with what the process said if it died or the deadline passed."""
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the writers print promptly or exit; the deadline bounds the whole test
    if not line:
        _, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        pytest.fail(f"writer exited {proc.returncode} without output; stderr:\n{err}")
    return line.strip()


@pytest.fixture
def writers(tmp_path):
    """Two writer processes on one (not yet created) database file; killed at the end whatever happens."""
    db_path = tmp_path / "data" / "bot.sqlite3"
    procs = [start_writer(db_path, "downloader-1"), start_writer(db_path, "downloader-2")]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def test_two_processes_write_at_once_without_lock_errors(tmp_path, writers):
    deadline = time.monotonic() + DEADLINE
    a, b = writers
    for proc in (a, b):
        assert read_line(proc, deadline) == "ready"
    for proc in (a, b):  # both open the fresh file (and race to migrate it) at the same moment
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = []
    for proc in (a, b):
        out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        assert proc.returncode == 0, f"writer exited {proc.returncode}; stderr:\n{err}"
        reports.append(json.loads(out.strip().splitlines()[-1]))

    for report in reports:
        assert report["error_count"] == 0, report["errors"]
        assert report["rounds"] == ROUNDS
    total = 2 * ROUNDS
    db = open_db(tmp_path / "data" / "bot.sqlite3", busy_timeout=BUSY_TIMEOUT)
    try:
        assert schema_version(db) == LATEST_VERSION
        counter = json.loads(db.execute("SELECT value FROM settings WHERE key = 'counter'").fetchone()[0])
        assert counter == total, "a read-then-write increment was lost"
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == total
        assert db.execute("SELECT count(*) FROM outbox WHERE job_id IS NOT NULL").fetchone()[0] == total
        assert db.execute("SELECT sum(requests_total) FROM users").fetchone()[0] == total
        claimed_a, claimed_b = set(reports[0]["claimed"]), set(reports[1]["claimed"])
        assert not claimed_a & claimed_b, "a job was claimed by both processes"
        assert len(claimed_a) + len(claimed_b) == total  # every round queued one and claimed one
        by_worker = dict(db.execute("SELECT worker, count(*) FROM jobs GROUP BY worker").fetchall())
        assert by_worker == {"downloader-1": len(claimed_a), "downloader-2": len(claimed_b)}
        # The writers met halfway (tests/db/writer.py), so their runs overlapped by construction.
        assert db.execute("SELECT count(*) FROM settings WHERE key LIKE 'halfway-%'").fetchone()[0] == 2
    finally:
        db.close()
