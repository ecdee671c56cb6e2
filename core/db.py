"""The database: one SQLite file, one connection per process, migrated at open.

Every process (gateway, uploader, downloaders, the supervisor's alerts) calls `open_db` once and
keeps the connection. WAL mode lets readers run while one writer writes; the busy timeout makes a
writer wait for another process's write lock instead of failing at once.

`open_connection` opens the same without sqlite-utils, whose imports cost a process about 4 MB:
the monitor's (the functions here and in `core.outbox` take either, see `Database`).

Transactions. sqlite-utils commits a lone `db.execute("INSERT ...")` by itself (so does a
`Connection`, in SQLite's autocommit mode). Anything that must
be atomic, and above all anything that reads and then writes, goes in `with write_tx(db):`, which
starts with `BEGIN IMMEDIATE` (see `write_tx` for why). `with db.conn:` alone is not enough for a
read-then-write: Python's sqlite3 only opens its implicit (deferred) transaction at the first
INSERT/UPDATE/DELETE, so the read before it is not protected.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from core.schema import LATEST_VERSION, MIGRATIONS, Migration

if TYPE_CHECKING:
    import sqlite_utils

__all__ = [
    "Connection",
    "Database",
    "DatabaseOpenError",
    "SchemaTooNew",
    "migrate",
    "open_connection",
    "open_db",
    "schema_version",
    "write_tx",
]

log = logging.getLogger(__name__)

# SQLite's busy timeout is in milliseconds; our setting is in seconds.
_MS_PER_S = 1000
# Back-off while another process switches a fresh file to WAL (see `_switch_to_wal`).
_WAL_RETRY_FIRST_DELAY = 0.001
_WAL_RETRY_MAX_DELAY = 0.05


class DatabaseOpenError(RuntimeError):
    """The database file cannot be used (not SQLite, unreadable, or from a newer version of the bot)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"database {path}: {problem}")
        self.path = path


class SchemaTooNew(DatabaseOpenError):
    """The file was migrated by a newer version of the bot; refusing to touch it."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        super().__init__(
            path,
            f"schema version {found} is newer than this code knows (latest {known}); "
            "run the newer version of the bot, or restore a backup made for this version",
        )
        self.found = found
        self.known = known


class Database(Protocol):
    """What the bot uses of an open database: `sqlite_utils.Database` and `Connection` both have it."""

    conn: sqlite3.Connection

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor: ...


class Connection:
    """An open database without sqlite-utils (see `open_connection`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, () if parameters is None else parameters)

    def close(self) -> None:
        self.conn.close()


D = TypeVar("D", bound=Database)


def open_db(
    path: Path, *, busy_timeout: float, migrations: tuple[Migration, ...] | None = None
) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at `path`: the bot's, or another
    file with its own `migrations` (a downloader's own database).

    Raises `SchemaTooNew` before writing anything when the file is newer than the code, and
    `DatabaseOpenError` when the file is not a usable SQLite database.
    """
    import sqlite_utils  # here, not at the top: a process that opens `open_connection` never needs it

    return _open(Path(path), busy_timeout, sqlite_utils.Database, migrations, autocommit=False)


def open_connection(path: Path, *, busy_timeout: float) -> Connection:
    """`open_db` without sqlite-utils, in SQLite's autocommit mode (a lone write commits, as with
    sqlite-utils; `write_tx` makes transactions): for the monitor, which spares its memory."""
    return _open(Path(path), busy_timeout, Connection, None, autocommit=True)


def _open(
    path: Path,
    busy_timeout: float,
    wrap: Callable[[sqlite3.Connection], D],
    migrations: tuple[Migration, ...] | None,
    *,
    autocommit: bool,
) -> D:
    latest = LATEST_VERSION if migrations is None else len(migrations)
    path.parent.mkdir(parents=True, exist_ok=True)
    # `timeout` sets SQLite's busy handler from the very first statement, so even the version
    # read below waits for a writer (e.g. another process migrating) instead of failing.
    if autocommit:
        conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), timeout=busy_timeout)
    try:
        found = _read_version(conn, path)
        if found > latest:
            raise SchemaTooNew(path, found, latest)
        _configure(conn, busy_timeout)
        db = wrap(conn)
        migrate(db, migrations)
    except BaseException:
        conn.close()
        raise
    return db


def _read_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:  # "file is not a database" and friends
        raise DatabaseOpenError(path, str(exc)) from None


def _configure(conn: sqlite3.Connection, busy_timeout: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * _MS_PER_S)}")
    # Changing the journal mode takes an exclusive lock; skip it when the file is already WAL
    # (the mode is persistent), so that processes starting together don't contend for it.
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        mode = _switch_to_wal(conn, busy_timeout)
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL mode (got {mode!r})")
    # NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last
    # commits, never corrupt the file.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")


def schema_version(db: Database) -> int:
    """The schema version stored in the file (0 for a new, empty database)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, migrations: tuple[Migration, ...] | None = None) -> int:
    """Apply the migrations the file has not seen, each in its own transaction; return how many.

    Safe when several processes start at once: each step re-reads the version under the write
    lock, so a step another process has just applied is skipped, not run twice.
    """
    if db.conn.in_transaction:
        raise RuntimeError("migrate() must not run inside a transaction")
    latest = LATEST_VERSION if migrations is None else len(migrations)
    applied = 0
    for migration in MIGRATIONS if migrations is None else migrations:
        if migration.version <= schema_version(db):
            continue
        # Rebuilding a table (create new, copy, drop old) would fire the ON DELETE actions of the
        # rows that point at it; SQLite's advice is to turn foreign keys off around the change
        # (only possible outside a transaction) and check them before committing.
        db.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with write_tx(db):
                current = schema_version(db)
                if current > latest:  # a newer bot migrated it while we were starting
                    raise SchemaTooNew(_db_path(db), current, latest)
                if current >= migration.version:
                    continue
                if current != migration.version - 1:
                    raise RuntimeError(f"schema v{current} cannot take migration {migration.version}")
                for statement in migration.statements:
                    db.conn.execute(statement)
                broken = db.conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration {migration.version} breaks foreign keys: {broken[:5]}")
                db.conn.execute(f"PRAGMA user_version = {migration.version}")
        finally:
            db.conn.execute("PRAGMA foreign_keys = ON")
        log.info("schema v%d applied: %s", migration.version, migration.description)
        applied += 1
    return applied


def _db_path(db: Database) -> Path:
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file)
    return Path("?")


def _switch_to_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Set WAL mode, retrying while another process holds the file (processes start together).

    The switch needs an exclusive lock, and SQLite can report SQLITE_BUSY for it at once instead
    of waiting out the busy timeout (seen when two processes open a fresh file together, in
    tests/db/test_concurrency.py); so we wait here, up to the busy timeout, with a short back-off.
    """
    deadline = time.monotonic() + busy_timeout
    delay = _WAL_RETRY_FIRST_DELAY
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, _WAL_RETRY_MAX_DELAY)


@contextmanager
def write_tx(db: D) -> Iterator[D]:
    """A transaction that takes the write lock up front: commit on success, roll back on error.

    Why IMMEDIATE: a plain (deferred) BEGIN starts as a reader and upgrades to a writer at its
    first write. If another process committed in between, the upgrade cannot succeed without
    breaking isolation, so SQLite returns SQLITE_BUSY ("database is locked") at once, without
    waiting out the busy timeout; two processes doing read-then-write can even each hold a read
    lock the other needs. `BEGIN IMMEDIATE` asks for the write lock first, and that request does
    wait for the busy timeout, so concurrent writers simply queue.

    Nested use (a helper that opens `write_tx` called inside another) becomes a savepoint of the
    outer transaction: its error rolls back only its own part, and nothing is committed until the
    outer block ends.

    Never `await` inside the block: the write lock would be held across the await, blocking every
    other process, and another trio task's `write_tx` would land inside this transaction. That
    second case raises `RuntimeError` instead of silently mixing the two.
    """
    conn = db.conn
    owner = _current_owner()
    holder = _OWNERS.get(id(conn))
    if holder is not None and holder is not owner:
        raise RuntimeError(
            "write_tx: another task's transaction is open on this connection (an await inside write_tx?)"
        )
    if conn.in_transaction:
        # Savepoint names may repeat: ROLLBACK TO / RELEASE act on the innermost one of that name.
        conn.execute("SAVEPOINT write_tx")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO SAVEPOINT write_tx")
                conn.execute("RELEASE SAVEPOINT write_tx")
            raise
        conn.execute("RELEASE SAVEPOINT write_tx")
        return
    conn.execute("BEGIN IMMEDIATE")
    _OWNERS[id(conn)] = owner
    try:
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        del _OWNERS[id(conn)]


# Who opened the write_tx currently open on a connection (keyed by id(connection)).
_OWNERS: dict[int, object] = {}


def _current_owner() -> object:
    """The trio task when running under trio, else the thread."""
    try:
        return trio.lowlevel.current_task()
    except RuntimeError:
        return threading.current_thread()
