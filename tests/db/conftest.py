"""Shared fixtures of the database tests: a fresh, migrated database in tmp_path with one user."""

from __future__ import annotations

import pytest

from core.db import open_db
from tests.db.helpers import NOW


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "bot.sqlite3", busy_timeout=1)
    db.execute("INSERT INTO users (id, joined_at, last_seen_at) VALUES (1, ?, ?)", [NOW, NOW])
    try:
        yield db
    finally:
        db.close()
