"""The downloaders' own database: what a downloader owns, and nothing of the gateway's.

`DATA_DIR/downloader.db`, shared by the downloaders of one host (so that they see one breaker per
platform and one rotation of cookie files), with its own migrations (the same numbering rules as
`core/schema.py`: append, never edit a shipped one). A downloader needs nothing from the bot's
database, so that it can run on another host: what it learns of a job comes in its JobAssign, what
it finds goes back as events, alerts go to the monitor.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from core.config import Settings
from core.db import open_db
from core.schema import CIRCUIT_STATES, Migration, sql_list

__all__ = ["DB_NAME", "MIGRATIONS", "db_path", "open_store"]

DB_NAME = "downloader.db"


_V1 = (
    # ---- circuit breakers, one per platform, shared by the downloaders of this host
    f"""CREATE TABLE circuits (
        platform    TEXT PRIMARY KEY,                  -- yt-dlp extractor key (Generic: per host)
        state       TEXT NOT NULL DEFAULT 'closed' CHECK (state IN {sql_list(CIRCUIT_STATES)}),
        failures    INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- platform-side failures in a row
        opened_at   REAL,
        probe_job   INTEGER,                           -- the one job let through while half open
        updated_at  REAL NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # ---- cookie files set aside (login required, bot check) until an admin replaces them
    """CREATE TABLE cookie_files (
        path          TEXT PRIMARY KEY,
        platform      TEXT NOT NULL,
        set_aside_at  REAL,
        reason        TEXT,
        uses          INTEGER NOT NULL DEFAULT 0,
        last_used_at  REAL
    ) STRICT, WITHOUT ROWID""",
)

MIGRATIONS: tuple[Migration, ...] = (Migration(1, "breakers and cookie files", _V1),)


def db_path(settings: Settings) -> Path:
    return settings.data_dir / DB_NAME


def open_store(settings: Settings) -> sqlite_utils.Database:
    """This host's downloaders' database, migrated."""
    return open_db(db_path(settings), busy_timeout=settings.db_busy_timeout, migrations=MIGRATIONS)
