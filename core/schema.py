"""Every table of the bot, as numbered migrations.

`core.db.open_db` applies the migrations the file has not seen yet, each in its own transaction,
and records the version in `PRAGMA user_version`. To change the schema, append a migration with
the next number; never edit one that has shipped (databases in the field already ran it).
SQLite cannot alter a CHECK constraint in place: changing one means rebuilding the table
(create new, copy, drop, rename) inside the migration.

Conventions: times are Unix seconds (REAL, `time.time()`); flags are INTEGER 0/1; JSON is TEXT
checked with `json_valid`; Telegram ids (users, chats, messages) are INTEGER. Tables are STRICT, so
a value of the wrong type is refused instead of silently stored.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["JOB_STATES", "LATEST_VERSION", "MIGRATIONS", "OUTBOX_STATES", "Migration"]

JOB_STATES = ("queued", "downloading", "uploading", "done", "failed", "cancelled")
JOB_ACTIVE_STATES = ("queued", "downloading", "uploading")
OUTBOX_STATES = ("pending", "sending", "sent", "failed")
BROADCAST_STATES = ("draft", "running", "paused", "done", "cancelled")
DELIVERY_STATES = ("pending", "sent", "failed", "blocked")
MEDIA_KINDS = ("video", "audio", "document", "photo", "animation")


class Migration(NamedTuple):
    version: int
    description: str
    statements: tuple[str, ...]


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


_V1 = (
    # ---- users: everyone who ever wrote to the bot; the gateway writes, the uploader sets blocked_bot
    """CREATE TABLE users (
        id                INTEGER PRIMARY KEY,          -- Telegram user id
        first_name        TEXT,
        last_name         TEXT,
        username          TEXT,
        language          TEXT,                         -- 'fa', 'en'; NULL: not chosen yet
        joined_at         REAL NOT NULL,
        last_seen_at      REAL NOT NULL,
        banned            INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
        banned_at         REAL,
        banned_by         INTEGER,
        ban_reason        TEXT,
        blocked_bot       INTEGER NOT NULL DEFAULT 0 CHECK (blocked_bot IN (0, 1)),
        sponsors_ok_at    REAL,                         -- last time all sponsor joins were verified
        requests_total    INTEGER NOT NULL DEFAULT 0 CHECK (requests_total >= 0),
        downloads_ok      INTEGER NOT NULL DEFAULT 0 CHECK (downloads_ok >= 0),
        downloads_failed  INTEGER NOT NULL DEFAULT 0 CHECK (downloads_failed >= 0),
        bytes_sent        INTEGER NOT NULL DEFAULT 0 CHECK (bytes_sent >= 0),
        last_message_id   INTEGER NOT NULL DEFAULT 0     -- newest private message handled: a redelivered
                                                        -- update (gateway killed before confirming) is skipped
    ) STRICT""",
    "CREATE INDEX users_username ON users (username COLLATE NOCASE) WHERE username IS NOT NULL",
    "CREATE INDEX users_last_seen ON users (last_seen_at)",
    "CREATE INDEX users_banned ON users (id) WHERE banned = 1",
    # ---- jobs: one link to download and send back; written before the user hears "queued"
    f"""CREATE TABLE jobs (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids travel in messages
        user_id             INTEGER NOT NULL REFERENCES users (id),
        chat_id             INTEGER NOT NULL,
        request_message_id  INTEGER,                   -- the user's message, to reply to
        status_message_id   INTEGER,                   -- the bot's live progress message
        url                 TEXT NOT NULL CHECK (length(url) > 0),
        format_id           TEXT,                      -- chosen format; NULL: best
        state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN {_in(JOB_STATES)}),
        attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        worker              TEXT,                      -- downloader holding it, e.g. 'downloader-2'
        title               TEXT,
        media_kind          TEXT CHECK (media_kind IS NULL OR media_kind IN {_in(MEDIA_KINDS)}),
        file_path           TEXT,                      -- finished file in the spool
        total_bytes         INTEGER CHECK (total_bytes IS NULL OR total_bytes >= 0),
        downloaded_bytes    INTEGER NOT NULL DEFAULT 0 CHECK (downloaded_bytes >= 0),
        uploaded_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (uploaded_bytes >= 0),
        file_size           INTEGER CHECK (file_size IS NULL OR file_size >= 0),
        error               TEXT,
        created_at          REAL NOT NULL,
        updated_at          REAL NOT NULL,
        started_at          REAL,
        finished_at         REAL
    ) STRICT""",
    "CREATE INDEX jobs_state_created ON jobs (state, created_at)",
    f"CREATE INDEX jobs_user_active ON jobs (user_id, state) WHERE state IN {_in(JOB_ACTIVE_STATES)}",
    "CREATE INDEX jobs_user_created ON jobs (user_id, created_at)",
    "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL",
    # ---- sponsors ("locks"): channels a user must join before using the bot
    """CREATE TABLE sponsors (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id        INTEGER,                        -- channel id (-100...), when known
        username       TEXT,                           -- channel @username without '@', when public
        title          TEXT NOT NULL DEFAULT '',
        invite_link    TEXT,
        active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        position       INTEGER NOT NULL DEFAULT 0,     -- order of the join buttons
        join_goal      INTEGER CHECK (join_goal IS NULL OR join_goal > 0),  -- deactivate after this many
        joins_counted  INTEGER NOT NULL DEFAULT 0 CHECK (joins_counted >= 0),
        created_by     INTEGER,
        created_at     REAL NOT NULL,
        CHECK (chat_id IS NOT NULL OR username IS NOT NULL)
    ) STRICT""",
    "CREATE UNIQUE INDEX sponsors_chat ON sponsors (chat_id) WHERE chat_id IS NOT NULL",
    "CREATE UNIQUE INDEX sponsors_username ON sponsors (username COLLATE NOCASE) WHERE username IS NOT NULL",
    """CREATE TABLE sponsor_joins (
        sponsor_id  INTEGER NOT NULL REFERENCES sponsors (id) ON DELETE CASCADE,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        joined_at   REAL NOT NULL,
        PRIMARY KEY (sponsor_id, user_id)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX sponsor_joins_user ON sponsor_joins (user_id)",
    # ---- media cache: a URL and format already uploaded once -> Telegram file_id, re-sent instantly
    f"""CREATE TABLE media_cache (
        url             TEXT NOT NULL,
        format_key      TEXT NOT NULL,                 -- '' for the default format
        file_id         TEXT NOT NULL,
        file_unique_id  TEXT,
        kind            TEXT NOT NULL CHECK (kind IN {_in(MEDIA_KINDS)}),
        size            INTEGER CHECK (size IS NULL OR size >= 0),
        title           TEXT,
        hits            INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
        created_at      REAL NOT NULL,
        last_used_at    REAL,
        PRIMARY KEY (url, format_key)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX media_cache_created ON media_cache (created_at)",
    # ---- broadcasts: one admin message to every user, tracked per recipient
    f"""CREATE TABLE broadcasts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        admin_id     INTEGER NOT NULL,
        payload      TEXT NOT NULL CHECK (json_valid(payload)),  -- what to send (text, or a message to copy)
        state        TEXT NOT NULL DEFAULT 'draft' CHECK (state IN {_in(BROADCAST_STATES)}),
        total        INTEGER NOT NULL DEFAULT 0 CHECK (total >= 0),
        sent         INTEGER NOT NULL DEFAULT 0 CHECK (sent >= 0),
        failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
        blocked      INTEGER NOT NULL DEFAULT 0 CHECK (blocked >= 0),
        created_at   REAL NOT NULL,
        started_at   REAL,
        finished_at  REAL
    ) STRICT""",
    f"""CREATE TABLE broadcast_deliveries (
        broadcast_id  INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
        user_id       INTEGER NOT NULL REFERENCES users (id),
        state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {_in(DELIVERY_STATES)}),
        outbox_id     INTEGER,
        error         TEXT,
        updated_at    REAL NOT NULL,
        PRIMARY KEY (broadcast_id, user_id)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX broadcast_deliveries_state ON broadcast_deliveries (broadcast_id, state)",
    # ---- settings changed by admins at run time (maintenance mode, limits); JSON values
    """CREATE TABLE settings (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL CHECK (json_valid(value)),
        updated_by  INTEGER,                           -- admin id; NULL: the bot itself
        updated_at  REAL NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # ---- admin audit log: who did what, append only
    """CREATE TABLE admin_audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        admin_id  INTEGER NOT NULL,
        action    TEXT NOT NULL CHECK (length(action) > 0),
        detail    TEXT,
        at        REAL NOT NULL
    ) STRICT""",
    "CREATE INDEX admin_audit_at ON admin_audit (at)",
    "CREATE INDEX admin_audit_admin ON admin_audit (admin_id, at)",
    # ---- outbox: everything the bot sends, written durably before the uploader is notified
    f"""CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id     INTEGER NOT NULL,
        kind        TEXT NOT NULL,                     -- text, edit, delete, media, copy, callback_answer
        payload     TEXT NOT NULL CHECK (json_valid(payload)),
        priority    INTEGER NOT NULL DEFAULT 0,        -- lower sends first
        state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {_in(OUTBOX_STATES)}),
        attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        not_before  REAL NOT NULL DEFAULT 0,           -- FloodWait / retry back-off
        created_at  REAL NOT NULL,
        sent_at     REAL,
        message_id  INTEGER,                           -- Telegram's id of the sent message
        error       TEXT,
        job_id      INTEGER REFERENCES jobs (id) ON DELETE SET NULL
    ) STRICT""",
    "CREATE INDEX outbox_due ON outbox (priority, id) WHERE state = 'pending'",
    "CREATE INDEX outbox_sending ON outbox (id) WHERE state = 'sending'",
    "CREATE INDEX outbox_job ON outbox (job_id) WHERE job_id IS NOT NULL",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, jobs, sponsors, media cache, broadcasts, settings, audit, outbox", _V1),
)


def _check_numbering(migrations: tuple[Migration, ...]) -> int:
    for expected, migration in enumerate(migrations, 1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.description!r} has version {migration.version}, not {expected}")
    return len(migrations)


LATEST_VERSION = _check_numbering(MIGRATIONS)
