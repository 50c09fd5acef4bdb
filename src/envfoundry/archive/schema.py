"""The archive's on-disk format: the directory layout, the database schema and its migration, and
``Database``, the one connection to the file that every read and write goes through.

Layout of an archive directory::

    root/archive.sqlite3          candidates, their stage reports, admitted environments, runs
    root/sources/<sha256>.py      each distinct source once, named by the SHA-256 of its UTF-8 bytes

A database is ours when its ``application_id`` is ``APPLICATION_ID`` and its ``user_version`` is
the schema version; an empty database gets the schema on first open, anything else is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from envfoundry.errors import EnvfoundryError, InvalidInputError

SCHEMA_VERSION = 1
# Marks the database file as an envfoundry archive ("EFAR"), so a stranger's SQLite file is refused.
APPLICATION_ID = 0x45464152
DB_NAME = "archive.sqlite3"
SOURCES = "sources"
BUSY_TIMEOUT_S = 30.0

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

SCHEMA = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        finished_at REAL,
        config TEXT NOT NULL,
        summary TEXT
    )""",
    """CREATE TABLE candidates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source_hash TEXT NOT NULL,
        env_name TEXT,
        admitted INTEGER NOT NULL CHECK (admitted IN (0, 1)),
        failed_stage TEXT,
        reason TEXT NOT NULL,
        lineage TEXT NOT NULL,
        created_at REAL NOT NULL,
        run_id TEXT REFERENCES runs(id)
    )""",
    "CREATE INDEX candidates_by_run ON candidates(run_id, id)",
    "CREATE INDEX candidates_by_admitted ON candidates(admitted, id)",
    "CREATE INDEX candidates_by_hash ON candidates(source_hash)",
    """CREATE TABLE stage_reports (
        candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        passed INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        reason TEXT NOT NULL,
        report TEXT NOT NULL,
        PRIMARY KEY (candidate_id, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX stage_reports_by_name ON stage_reports(name, passed)",
    """CREATE TABLE environments (
        name TEXT PRIMARY KEY,
        candidate_id INTEGER NOT NULL UNIQUE REFERENCES candidates(id),
        source_hash TEXT NOT NULL,
        version INTEGER,
        asymmetry TEXT,
        family TEXT,
        description TEXT,
        calibration TEXT,
        novelty TEXT,
        admitted_at REAL NOT NULL
    )""",
)


class ArchiveError(EnvfoundryError, ValueError):
    """The archive directory or database cannot be used (not an archive, corrupt, newer schema, closed)."""


def default_archive_dir() -> Path:
    """``$ENVFOUNDRY_ARCHIVE``, else ``$XDG_DATA_HOME/envfoundry/archive``, else ``~/.local/share/envfoundry/archive``."""
    explicit = os.environ.get("ENVFOUNDRY_ARCHIVE")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME")
    if data_home:
        return Path(data_home).expanduser() / "envfoundry" / "archive"
    return Path.home() / ".local" / "share" / "envfoundry" / "archive"


def archive_exists(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds an archive's database (opening ``Archive(root)`` would create one)."""
    return (Path(root) / DB_NAME).is_file()


def source_hash(source: str) -> str:
    """The SHA-256 hex digest the archive files ``source`` under."""
    return hashlib.sha256(encode_source(source)).hexdigest()


def valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def encode_source(source: object) -> bytes:
    """The UTF-8 bytes a source is stored as; anything but non-blank text is a ``ValueError``."""
    if not isinstance(source, str):
        raise InvalidInputError(f"source must be a string, got {type(source).__name__}")
    if not source.strip():
        raise InvalidInputError("source is empty")
    try:
        return source.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"source is not valid Unicode text: {exc}") from None


def check_directory(root: Path) -> None:
    """Refuse a ``root`` that is a file, or a directory holding other things but no archive database."""
    if root.exists() and not root.is_dir():
        raise ArchiveError(f"'{root}' is not a directory, so it cannot be an envfoundry archive")
    if root.is_dir() and not (root / DB_NAME).exists():
        # the database itself too: another process opening the same new archive may create it
        # between the check above and this listing
        ours = {SOURCES, DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"}
        strangers = sorted(p.name for p in root.iterdir() if p.name not in ours)
        if strangers:
            shown = ", ".join(strangers[:3]) + (", ..." if len(strangers) > 3 else "")
            raise ArchiveError(
                f"'{root}' is not an envfoundry archive: it has no {DB_NAME} but holds other files ({shown})"
            )


class Database:
    """The archive's one SQLite connection, shared between threads behind a lock.

    Every transaction goes through ``write()`` or ``read()``; nothing else begins, commits or
    rolls back. ``write()`` takes the thread lock, then SQLite's write lock (``BEGIN IMMEDIATE``:
    two processes queue on it, WAL mode, 30 s busy timeout, instead of failing), and rolls back
    on any exception, ``KeyboardInterrupt`` included, so a failed write leaves nothing behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            # isolation_level=None: no implicit transactions; every write is an explicit BEGIN IMMEDIATE.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open the archive database '{path}': {exc}") from exc
        self._conn: sqlite3.Connection | None = conn
        try:
            self._configure(conn)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ArchiveError(
                f"'{path}' is not a readable envfoundry archive database (corrupt or not SQLite): {exc}"
            ) from exc
        except BaseException:
            self.close()
            raise

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The one way to change the archive: a transaction holding both locks, all of it or none."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot to read from, under the thread lock."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise ArchiveError(f"the archive at '{self.path.parent}' is closed")
            conn = self._conn
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                # Some errors (disk full, I/O) have already rolled SQLite back; a second ROLLBACK
                # would raise and hide the error that matters.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                # A COMMIT that fails (I/O) may leave the transaction open: roll it back, or every
                # later call on this connection would fail with "transaction within a transaction".
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _configure(self, conn: sqlite3.Connection) -> None:
        """Connection settings, outside any transaction: journal_mode and foreign_keys cannot change inside one."""
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = _journal_mode_wal(conn)
        if str(mode).lower() != "wal":
            raise ArchiveError(f"the archive database '{self.path}' cannot use WAL journaling (got {mode!r})")
        # FULL, not NORMAL: in WAL mode NORMAL survives a killed process but may lose the last
        # commits on power loss or an OS crash; admitted environments are the output of hours
        # of model calls, and one fsync per recorded candidate (seconds of validation apart)
        # costs nothing measurable.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")

    def _migrate(self) -> None:
        """Create the schema in an empty database; refuse a stranger's database or a newer schema."""
        with self.read() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with self.write() as conn:
                # Another process may have created the schema while this one waited for the lock.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise ArchiveError(f"'{self.path}' is an SQLite database but not an envfoundry archive")
                    for statement in SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    version = SCHEMA_VERSION
        with self.read() as conn:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise ArchiveError(f"'{self.path}' is an SQLite database but not an envfoundry archive")
        if version > SCHEMA_VERSION:
            raise ArchiveError(
                f"the archive '{self.path}' has schema version {version}, newer than this envfoundry "
                f"understands ({SCHEMA_VERSION}); upgrade envfoundry to open it"
            )
        if version < SCHEMA_VERSION:  # pragma: no cover - no older schema exists yet
            raise ArchiveError(f"the archive '{self.path}' has schema version {version}, which has no migration")


def _journal_mode_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL. Two processes opening a new archive at once race for the switch, and SQLite
    does not always call the busy handler for it ("database is locked" at once): retry until the
    busy timeout, as a busy handler would."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)

