"""`open_connection`: the database without sqlite-utils (the monitor's), with the same promises:
migrated at open, a lone write committed by itself, `write_tx` all or nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from core.db import open_connection, schema_version, write_tx
from core.schema import LATEST_VERSION


def test_it_behaves_as_open_db_does(tmp_path):
    path = tmp_path / "bot.sqlite3"
    db = open_connection(path, busy_timeout=5)
    other = sqlite3.connect(path)
    try:
        assert schema_version(db) == LATEST_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (1, 1, 1)")
        assert other.execute("SELECT count(*) FROM users").fetchone() == (1,)  # committed by itself
        with pytest.raises(RuntimeError), write_tx(db):
            db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (2, 1, 1)")
            raise RuntimeError("the change fails")
        with write_tx(db):
            db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (3, 1, 1)")
        assert [r for (r,) in other.execute("SELECT id FROM users ORDER BY id")] == [1, 3]
        assert not db.conn.in_transaction
    finally:
        other.close()
        db.close()


def test_it_spares_the_monitor_sqlite_utils(tmp_path):
    code = (
        "import sys, monitor.main; from core.db import open_connection;"
        f" open_connection({str(tmp_path / 'x.sqlite3')!r}, busy_timeout=5).close();"
        " print('sqlite_utils' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
