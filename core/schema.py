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

# v1's states, kept for the v1 table definition below (migrations never change once shipped).
_V1_JOB_STATES = ("queued", "downloading", "uploading", "done", "failed", "cancelled")
_V1_JOB_ACTIVE_STATES = ("queued", "downloading", "uploading")
_V1_OUTBOX_STATES = ("pending", "sending", "sent", "failed")
_V1_DELIVERY_STATES = ("pending", "sent", "failed", "blocked")

# A job: queued (waiting for a downloader: a probe when no format is chosen yet, else the download)
# -> probing -> choosing (the user picks a format) -> queued -> downloading -> uploading -> done;
# failed and cancelled end it from any state.
JOB_STATES = ("queued", "probing", "choosing", "downloading", "uploading", "done", "failed", "cancelled")
JOB_ACTIVE_STATES = ("queued", "probing", "choosing", "downloading", "uploading")
JOB_FINAL_STATES = ("done", "failed", "cancelled")
JOB_ON_A_DOWNLOADER_STATES = ("probing", "downloading")  # held by a downloader under a lease
# dropped: a row no longer worth sending (a progress edit overtaken by the file, a status never shown).
OUTBOX_STATES = ("pending", "sending", "sent", "failed", "dropped")
CIRCUIT_STATES = ("closed", "open", "half_open")
SPONSOR_USER_STATES = ("shown", "joined", "already", "left")
BROADCAST_STATES = ("draft", "running", "paused", "done", "cancelled")
# A delivery (one user of a broadcast): pending (claimed, surely not sent: waiting for its turn or a
# retry) -> sending (the copy may be on its way) -> sent / failed / blocked; a crash leaves sending
# rows 'unknown': they may have arrived, so they are never sent again.
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "blocked", "unknown")
MEDIA_KINDS = ("video", "audio", "document", "photo", "animation")
ADMIN_STEP_KINDS = ("confirm", "input")


class Migration(NamedTuple):
    version: int
    description: str
    statements: tuple[str, ...]


def sql_list(values: tuple[str, ...]) -> str:
    """`('a', 'b')`: a CHECK's list of allowed values (this schema's and a downloader's own)."""
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
        state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN {sql_list(_V1_JOB_STATES)}),
        attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        worker              TEXT,                      -- downloader holding it, e.g. 'downloader-2'
        title               TEXT,
        media_kind          TEXT CHECK (media_kind IS NULL OR media_kind IN {sql_list(MEDIA_KINDS)}),
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
    f"CREATE INDEX jobs_user_active ON jobs (user_id, state) WHERE state IN {sql_list(_V1_JOB_ACTIVE_STATES)}",
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
        kind            TEXT NOT NULL CHECK (kind IN {sql_list(MEDIA_KINDS)}),
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
        state        TEXT NOT NULL DEFAULT 'draft' CHECK (state IN {sql_list(BROADCAST_STATES)}),
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
        state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {sql_list(_V1_DELIVERY_STATES)}),
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
        state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {sql_list(_V1_OUTBOX_STATES)}),
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


_V2 = (
    # Renaming a table rewrites other tables' references to it unless legacy_alter_table is on; the
    # outbox's job_id must keep pointing at "jobs", the rebuilt table, not at the dropped copy.
    "PRAGMA legacy_alter_table = ON",
    # ---- jobs, rebuilt: probe and choice states, canonical media keys, leases, playlists
    "DROP INDEX jobs_state_created",
    "DROP INDEX jobs_user_active",
    "DROP INDEX jobs_user_created",
    "DROP INDEX jobs_finished",
    "ALTER TABLE jobs RENAME TO jobs_v1",
    f"""CREATE TABLE jobs (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids travel in messages
        user_id             INTEGER NOT NULL REFERENCES users (id),
        chat_id             INTEGER NOT NULL,
        request_message_id  INTEGER,                   -- the user's message, to reply to
        parent_id           INTEGER REFERENCES jobs (id) ON DELETE CASCADE,  -- the playlist of an entry
        item_index          INTEGER CHECK (item_index IS NULL OR item_index > 0),  -- 1-based, in a playlist
        url                 TEXT NOT NULL CHECK (length(url) > 0),
        request_key         TEXT NOT NULL,             -- canonical key from the URL alone (no network)
        media_key           TEXT,                      -- canonical key once probed (generic: final URL)
        platform            TEXT,                      -- yt-dlp extractor key, e.g. 'Youtube', 'Generic'
        format_key          TEXT,                      -- chosen format ('v:720', 'a:m4a', 'file'); NULL: not yet
        state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN {sql_list(JOB_STATES)}),
        attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        lease               INTEGER NOT NULL DEFAULT 0 CHECK (lease >= 0),  -- +1 per dispatch; stale events lose
        worker              TEXT,                      -- downloader holding it, e.g. 'downloader-2'
        not_before          REAL NOT NULL DEFAULT 0,   -- retry back-off: not dispatched before this
        heartbeat_at        REAL,                      -- last sign of life from its worker
        title               TEXT,
        media_kind          TEXT CHECK (media_kind IS NULL OR media_kind IN {sql_list(MEDIA_KINDS)}),
        file_path           TEXT,                      -- finished file (or first part) in the spool
        meta                TEXT CHECK (meta IS NULL OR json_valid(meta)),  -- duration, size, parts, ...
        total_bytes         INTEGER CHECK (total_bytes IS NULL OR total_bytes >= 0),
        downloaded_bytes    INTEGER NOT NULL DEFAULT 0 CHECK (downloaded_bytes >= 0),
        uploaded_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (uploaded_bytes >= 0),
        file_size           INTEGER CHECK (file_size IS NULL OR file_size >= 0),
        error_class         TEXT,                      -- downloader.errors class of a failure
        error               TEXT,                      -- the raw reason, for the log and admins only
        status_outbox_id    INTEGER,                   -- outbox row of the job's status message
        status_message_id   INTEGER,                   -- Telegram id of that message, once sent
        created_at          REAL NOT NULL,
        updated_at          REAL NOT NULL,
        started_at          REAL,
        finished_at         REAL
    ) STRICT""",
    """INSERT INTO jobs (id, user_id, chat_id, request_message_id, url, request_key, format_key, state, attempts,
        worker, title, media_kind, file_path, total_bytes, downloaded_bytes, uploaded_bytes, file_size, error,
        status_message_id, created_at, updated_at, started_at, finished_at)
        SELECT id, user_id, chat_id, request_message_id, url, url, format_id, state, attempts, worker, title,
        media_kind, file_path, total_bytes, downloaded_bytes, uploaded_bytes, file_size, error, status_message_id,
        created_at, updated_at, started_at, finished_at FROM jobs_v1""",
    "DROP TABLE jobs_v1",
    "CREATE INDEX jobs_state_created ON jobs (state, created_at)",
    f"CREATE INDEX jobs_user_active ON jobs (user_id, state) WHERE state IN {sql_list(JOB_ACTIVE_STATES)}",
    "CREATE INDEX jobs_user_created ON jobs (user_id, created_at)",
    "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL",
    f"CREATE INDEX jobs_media_active ON jobs (media_key, format_key) WHERE state IN {sql_list(JOB_ACTIVE_STATES)}",
    # single flight: is this link being probed or downloaded for someone else?
    "CREATE INDEX jobs_request_running ON jobs (request_key) WHERE state IN ('probing', 'downloading')",
    "CREATE INDEX jobs_parent ON jobs (parent_id, item_index) WHERE parent_id IS NOT NULL",
    "CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done' AND parent_id IS NULL",  # the estimate
    # ---- outbox, rebuilt: 'dropped' rows, edit targets and roles (for coalescing and thinning)
    "DROP INDEX outbox_due",
    "DROP INDEX outbox_sending",
    "DROP INDEX outbox_job",
    "ALTER TABLE outbox RENAME TO outbox_v1",
    f"""CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id     INTEGER NOT NULL,
        kind        TEXT NOT NULL,                     -- the payload's tag: text, edit, delete, media, copy, ...
        payload     TEXT NOT NULL CHECK (json_valid(payload)),
        priority    INTEGER NOT NULL DEFAULT 0,        -- lower sends first (core.outbox.PRIORITY_*)
        role        TEXT NOT NULL DEFAULT '',          -- status, progress, file, alert, broadcast, ...
        state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {sql_list(OUTBOX_STATES)}),
        attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        not_before  REAL NOT NULL DEFAULT 0,           -- FloodWait / retry back-off
        created_at  REAL NOT NULL,
        sent_at     REAL,
        message_id  INTEGER,                           -- Telegram's id of the sent message
        target_id   INTEGER REFERENCES outbox (id),    -- edit/delete: the row whose message it changes
        error       TEXT,
        job_id      INTEGER REFERENCES jobs (id) ON DELETE SET NULL
    ) STRICT""",
    """INSERT INTO outbox (id, chat_id, kind, payload, priority, state, attempts, not_before, created_at, sent_at,
        message_id, error, job_id)
        SELECT id, chat_id, kind, payload, priority, state, attempts, not_before, created_at, sent_at, message_id,
        error, job_id FROM outbox_v1""",
    "DROP TABLE outbox_v1",
    "CREATE INDEX outbox_due ON outbox (priority, id) WHERE state = 'pending'",
    "CREATE INDEX outbox_sending ON outbox (id) WHERE state = 'sending'",
    "CREATE INDEX outbox_job ON outbox (job_id) WHERE job_id IS NOT NULL",
    "CREATE INDEX outbox_target ON outbox (target_id) WHERE target_id IS NOT NULL",
    "CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state IN ('sent', 'failed', 'dropped')",
    # ---- media cache, rebuilt: keyed on the canonical media key, with split parts
    "DROP INDEX media_cache_created",
    "DROP TABLE media_cache",
    f"""CREATE TABLE media_cache (
        media_key       TEXT NOT NULL,                 -- 'Youtube:<id>', or 'url:<final URL without tracking>'
        format_key      TEXT NOT NULL,                 -- 'v:720', 'a:m4a', 'file', ...
        part            INTEGER NOT NULL DEFAULT 1 CHECK (part >= 1),
        parts           INTEGER NOT NULL DEFAULT 1 CHECK (parts >= part),
        file_id         TEXT NOT NULL,
        file_unique_id  TEXT,
        kind            TEXT NOT NULL CHECK (kind IN {sql_list(MEDIA_KINDS)}),
        size            INTEGER CHECK (size IS NULL OR size >= 0),
        title           TEXT,
        source_url      TEXT,                          -- the link shown in captions
        hits            INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
        created_at      REAL NOT NULL,
        last_used_at    REAL,
        PRIMARY KEY (media_key, format_key, part)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX media_cache_created ON media_cache (created_at)",
    # ---- what a probe found (title, duration, formats with sizes, entries), so choices need no network
    """CREATE TABLE media_probes (
        media_key   TEXT PRIMARY KEY,
        platform    TEXT NOT NULL,
        info        TEXT NOT NULL CHECK (json_valid(info)),
        created_at  REAL NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # ---- a request key (from the URL alone) -> the canonical media key its probe found
    """CREATE TABLE media_aliases (
        request_key  TEXT PRIMARY KEY,
        media_key    TEXT NOT NULL,
        created_at   REAL NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # ---- users' own choices (/settings)
    "ALTER TABLE users ADD COLUMN default_format TEXT NOT NULL DEFAULT 'ask'",  # ask, best, v:<height>, audio
    "ALTER TABLE users ADD COLUMN audio_format TEXT",  # m4a, mp3; NULL: AUDIO_FORMAT
    # ---- per-user state with a lifetime: rate windows, notices already given, prompts shown
    """CREATE TABLE user_marks (
        user_id     INTEGER NOT NULL,
        mark        TEXT NOT NULL,                     -- 'rate', 'notice:ban', 'notice:hint', ...
        at          REAL NOT NULL,                     -- when the window or notice began
        count       INTEGER NOT NULL DEFAULT 0,
        expires_at  REAL NOT NULL,
        PRIMARY KEY (user_id, mark)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX user_marks_expiry ON user_marks (expires_at)",
    # ---- links held behind a sponsor lock, delivered once the user has joined
    """CREATE TABLE held_links (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id      INTEGER NOT NULL REFERENCES users (id),
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,                 -- the user's message with the links
        links        TEXT NOT NULL CHECK (json_valid(links)),
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        released_at  REAL
    ) STRICT""",
    "CREATE INDEX held_links_user ON held_links (user_id) WHERE released_at IS NULL",
    # ---- sponsor locks: expiry and ends; who was shown a lock and what became of them
    "ALTER TABLE sponsors ADD COLUMN expires_at REAL",
    "ALTER TABLE sponsors ADD COLUMN ended_at REAL",
    "ALTER TABLE sponsors ADD COLUMN end_reason TEXT",  # cap, expired, removed
    "ALTER TABLE sponsors ADD COLUMN unchecked_at REAL",  # the bot could not check members (not an admin)
    # A channel is unique among the active locks only: an ended lock keeps its row and its figures,
    # and the same channel can be locked again as a new row.
    "DROP INDEX sponsors_chat",
    "DROP INDEX sponsors_username",
    "CREATE UNIQUE INDEX sponsors_chat ON sponsors (chat_id) WHERE chat_id IS NOT NULL AND active = 1",
    "CREATE UNIQUE INDEX sponsors_username ON sponsors (username COLLATE NOCASE)"
    " WHERE username IS NOT NULL AND active = 1",
    "DROP INDEX sponsor_joins_user",
    "DROP TABLE sponsor_joins",
    f"""CREATE TABLE sponsor_users (
        sponsor_id  INTEGER NOT NULL REFERENCES sponsors (id) ON DELETE CASCADE,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        status      TEXT NOT NULL CHECK (status IN {sql_list(SPONSOR_USER_STATES)}),
        shown_at    REAL,                              -- first shown the lock (NULL: member before that)
        joined_at   REAL,                              -- credited join
        left_at     REAL,
        PRIMARY KEY (sponsor_id, user_id)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX sponsor_users_user ON sponsor_users (user_id)",
    # ---- circuit breakers, one per platform, shared by every downloader
    f"""CREATE TABLE circuits (
        platform    TEXT PRIMARY KEY,                  -- yt-dlp extractor key
        state       TEXT NOT NULL DEFAULT 'closed' CHECK (state IN {sql_list(CIRCUIT_STATES)}),
        failures    INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- platform-side failures in a row
        opened_at   REAL,
        probe_job   INTEGER,                           -- the one job let through while half open
        updated_at  REAL NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # ---- alerts already sent, for the cooldown per kind
    """CREATE TABLE alert_log (
        kind     TEXT PRIMARY KEY,
        last_at  REAL NOT NULL,
        count    INTEGER NOT NULL DEFAULT 1
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
    # ---- broadcasts: the copied message, a resumable cursor, the admin's progress message
    "ALTER TABLE broadcasts ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0",  # last user id handled
    "ALTER TABLE broadcasts ADD COLUMN status_outbox_id INTEGER",
    "ALTER TABLE broadcasts ADD COLUMN updated_at REAL",
    # deliveries whose outcome a crash hid (counted apart from failed), when the final report was
    # queued, and why a broadcast ended early ('source_gone': the admin deleted the message)
    "ALTER TABLE broadcasts ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0 CHECK (unknown >= 0)",
    "ALTER TABLE broadcasts ADD COLUMN reported_at REAL",
    "ALTER TABLE broadcasts ADD COLUMN end_reason TEXT",
    # ---- broadcast deliveries, rebuilt: 'sending' and 'unknown' states, the copy's message id
    "DROP INDEX broadcast_deliveries_state",
    "ALTER TABLE broadcast_deliveries RENAME TO broadcast_deliveries_v1",
    f"""CREATE TABLE broadcast_deliveries (
        broadcast_id  INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
        user_id       INTEGER NOT NULL REFERENCES users (id),
        state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {sql_list(DELIVERY_STATES)}),
        outbox_id     INTEGER,                         -- unused: copies do not go through the outbox
        message_id    INTEGER,                         -- Telegram's id of the copy, once sent
        error         TEXT,
        updated_at    REAL NOT NULL,
        PRIMARY KEY (broadcast_id, user_id)            -- one delivery per user: never sent twice
    ) STRICT, WITHOUT ROWID""",
    """INSERT INTO broadcast_deliveries (broadcast_id, user_id, state, outbox_id, error, updated_at)
        SELECT broadcast_id, user_id, state, outbox_id, error, updated_at FROM broadcast_deliveries_v1""",
    "DROP TABLE broadcast_deliveries_v1",
    "CREATE INDEX broadcast_deliveries_state ON broadcast_deliveries (broadcast_id, state)",
    "PRAGMA legacy_alter_table = OFF",
)

# The uploads waiting: the uploader looks for them on every turn of its loop, and without this
# index each look read every pending row's payload (a flood of cache hits made it O(queue) a send).
# The expression is the one in core.outbox's claim, so that SQLite's planner can match it.
_V3 = (
    "CREATE INDEX outbox_uploads ON outbox (priority, id)"
    " WHERE state = 'pending' AND kind = 'media' AND json_extract(payload, '$.path') IS NOT NULL",
)

# An admin's conversation of several steps (/admin panel): a confirmation awaited (a button press)
# or a value awaited (the admin's next message), with a lifetime; kept here so that it survives a
# restart of the gateway and two admins never share one.
_V4 = (
    f"""CREATE TABLE admin_steps (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        admin_id    INTEGER NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN {sql_list(ADMIN_STEP_KINDS)}),
        action      TEXT NOT NULL CHECK (length(action) > 0),  -- what it does: 'cancel_job', '/setlimit', ...
        args        TEXT NOT NULL CHECK (json_valid(args)),
        created_at  REAL NOT NULL,
        expires_at  REAL NOT NULL,
        done_at     REAL                               -- confirmed, refused or replaced: never again
    ) STRICT""",
    "CREATE INDEX admin_steps_open ON admin_steps (admin_id, kind) WHERE done_at IS NULL",
    "CREATE INDEX admin_steps_expiry ON admin_steps (expires_at)",
)

# Alerts that last until they clear: the "resolved" message after them, the active ones on
# /healthz, and an alert held back by the cooldown, sent once the cooldown is over. `last_at` stays
# the time the kind was last sent to the admins.
_V5 = (
    "ALTER TABLE alert_log ADD COLUMN active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))",
    "ALTER TABLE alert_log ADD COLUMN announced INTEGER NOT NULL DEFAULT 0 CHECK (announced IN (0, 1))",
    "ALTER TABLE alert_log ADD COLUMN text_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE alert_log ADD COLUMN vals TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vals))",
    "ALTER TABLE alert_log ADD COLUMN raised_at REAL",
)

# A job's state has one owner (core/jobstates.py); the database holds two of its invariants too, so
# that no path can break them: a final state has its finished_at, and a final state never changes
# (each answer to the user comes once). The outbox learns why an upload failed (the sweep ends
# its job with that class if the uploader's report was lost) and how often a row was in flight
# when the uploader died (twice is a quarantine, not a third try).
_V6 = (
    """CREATE TRIGGER jobs_final_has_finished_at_insert BEFORE INSERT ON jobs
       WHEN NEW.state IN ('done', 'failed', 'cancelled') AND NEW.finished_at IS NULL
       BEGIN SELECT RAISE(ABORT, 'a job in a final state needs finished_at'); END""",
    """CREATE TRIGGER jobs_final_has_finished_at BEFORE UPDATE OF state, finished_at ON jobs
       WHEN NEW.state IN ('done', 'failed', 'cancelled') AND NEW.finished_at IS NULL
       BEGIN SELECT RAISE(ABORT, 'a job in a final state needs finished_at'); END""",
    """CREATE TRIGGER jobs_final_stays BEFORE UPDATE OF state ON jobs
       WHEN OLD.state IN ('done', 'failed', 'cancelled') AND NEW.state != OLD.state
       BEGIN SELECT RAISE(ABORT, 'a job in a final state never moves'); END""",
    "ALTER TABLE outbox ADD COLUMN error_class TEXT",  # core.failures class of a failed upload
    "ALTER TABLE outbox ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0 CHECK (interrupted >= 0)",
)

# Image posts and subtitles (issue 17): what a user keeps as the answer to "photos, videos or
# everything?" for a post that mixes them ('ask': the question each time), and whether subtitles
# always come with a video.
_V7 = (
    "ALTER TABLE users ADD COLUMN album_format TEXT NOT NULL DEFAULT 'ask'"
    " CHECK (album_format IN ('ask', 'g:all', 'g:photos', 'g:videos'))",
    "ALTER TABLE users ADD COLUMN subtitles INTEGER NOT NULL DEFAULT 0 CHECK (subtitles IN (0, 1))",
)

# An uploader claims a window of rows at once and sends them as the budget lets it, a few at a
# time: `started_at` is written just before a row's Telegram call, so that at a restart only a row
# whose send had begun (its outcome unknown) counts the death; one only claimed goes again uncounted.
_V8 = ("ALTER TABLE outbox ADD COLUMN started_at REAL",)

# A job's status message id was never written: it is the `message_id` of the job's status row
# (`status_outbox_id`), which the uploader records; one fact in one place.
_V9 = ("ALTER TABLE jobs DROP COLUMN status_message_id",)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, jobs, sponsors, media cache, broadcasts, settings, audit, outbox", _V1),
    Migration(2, "the pipeline: job states and keys, outbox roles, media cache and probes, gates, breakers", _V2),
    Migration(3, "an index of the uploads waiting in the outbox", _V3),
    Migration(4, "admins' conversations of several steps", _V4),
    Migration(5, "alerts that last until resolved", _V5),
    Migration(6, "final job states hold; an upload's failure class and interruptions", _V6),
    Migration(7, "users' answer for mixed image posts, and subtitles always", _V7),
    Migration(8, "when an outbox row's send began", _V8),
    Migration(9, "jobs lose status_message_id, never written", _V9),
)


def _check_numbering(migrations: tuple[Migration, ...]) -> int:
    for expected, migration in enumerate(migrations, 1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.description!r} has version {migration.version}, not {expected}")
    return len(migrations)


LATEST_VERSION = _check_numbering(MIGRATIONS)
