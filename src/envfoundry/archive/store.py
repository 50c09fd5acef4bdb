"""The archive: every candidate environment ever validated, admitted or rejected, on disk.

Layout of an archive directory::

    root/archive.sqlite3          candidates, their stage reports, admitted environments, runs
    root/sources/<sha256>.py      each distinct source once, named by the SHA-256 of its UTF-8 bytes

Crash safety rests on one ordering rule: a source file is written (temp file, fsync, rename,
fsync of the directory) before the transaction that references it commits. A killed process can
leave a source file that no row references (an orphan: harmless, ``check(repair=True)`` removes
it) but never a row without its file, and every ``record`` that returned is durable.

Writes run in ``BEGIN IMMEDIATE`` transactions, so two processes writing the same archive queue
on SQLite's write lock (WAL mode, 30 s busy timeout) instead of failing; within a process one
connection is shared behind a lock, so an ``Archive`` can be used from several threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# Marks the database file as an envfoundry archive ("EFAR"), so a stranger's SQLite file is refused.
APPLICATION_ID = 0x45464152
DB_NAME = "archive.sqlite3"
SOURCES = "sources"
BUSY_TIMEOUT_S = 30.0

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HASH = re.compile(r"[0-9a-f]{64}")
_HASH_PREFIX = re.compile(r"[0-9a-f]{8,64}")
INFO_KEYS = ("version", "asymmetry", "family", "description", "calibration", "novelty")
# The funnel's stage for a rejected candidate that came with no failing report.
NO_STAGE = "(none)"

_SCHEMA = (
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


class ArchiveError(ValueError):
    """The archive directory or database cannot be used (not an archive, corrupt, newer schema, closed)."""


@dataclass(frozen=True)
class Record:
    """One validated candidate, admitted or not, with the reports of the stages it went through."""

    id: int
    source_hash: str
    env_name: str | None
    admitted: bool
    failed_stage: str | None
    reason: str
    lineage: dict[str, Any]
    created_at: float
    run_id: str | None
    reports: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ArchivedEnvironment:
    """An admitted environment: its source file and what validation learned about it."""

    name: str
    source_hash: str
    path: Path
    version: int | None
    asymmetry: str | None
    family: str | None
    description: str | None
    calibration: Any
    novelty: Any
    lineage: dict[str, Any]
    reports: list[dict[str, Any]]
    admitted_at: float
    candidate_id: int


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
    return hashlib.sha256(_encode(source)).hexdigest()


def valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


class Archive:
    """A crash-safe store of validated environment candidates; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise ValueError(f"the archive root must be a path, got {type(root).__name__}")
        self.root = default_archive_dir() if root is None else Path(root).expanduser()
        self.db_path = self.root / DB_NAME
        self.sources_dir = self.root / SOURCES
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._check_directory()
        self.root.mkdir(parents=True, exist_ok=True)
        self._conn = self._open()
        self.sources_dir.mkdir(exist_ok=True)

    # ----- opening ------------------------------------------------------------------------------
    def _check_directory(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise ArchiveError(f"'{self.root}' is not a directory, so it cannot be an envfoundry archive")
        if self.root.is_dir() and not self.db_path.exists():
            ours = {SOURCES, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"}
            strangers = sorted(p.name for p in self.root.iterdir() if p.name not in ours)
            if strangers:
                shown = ", ".join(strangers[:3]) + (", ..." if len(strangers) > 3 else "")
                raise ArchiveError(
                    f"'{self.root}' is not an envfoundry archive: it has no {DB_NAME} but holds other files ({shown})"
                )

    def _open(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; every write is an explicit BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open the archive database '{self.db_path}': {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ArchiveError(f"the archive database '{self.db_path}' cannot use WAL journaling (got {mode!r})")
            # FULL, not NORMAL: in WAL mode NORMAL survives a killed process but may lose the last
            # commits on power loss or an OS crash; admitted environments are the output of hours
            # of model calls, and one fsync per recorded candidate (seconds of validation apart)
            # costs nothing measurable.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except ArchiveError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ArchiveError(
                f"'{self.db_path}' is not a readable envfoundry archive database (corrupt or not SQLite): {exc}"
            ) from exc
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created the schema while this one waited for the lock.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                    if tables:
                        raise ArchiveError(f"'{self.db_path}' is an SQLite database but not an envfoundry archive")
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    version = SCHEMA_VERSION
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise ArchiveError(f"'{self.db_path}' is an SQLite database but not an envfoundry archive")
        if version > SCHEMA_VERSION:
            raise ArchiveError(
                f"the archive '{self.db_path}' has schema version {version}, newer than this envfoundry "
                f"understands ({SCHEMA_VERSION}); upgrade envfoundry to open it"
            )
        if version < SCHEMA_VERSION:  # pragma: no cover - no older schema exists yet
            raise ArchiveError(f"the archive '{self.db_path}' has schema version {version}, which has no migration")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ArchiveError(f"the archive at '{self.root}' is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Archive '{self.root}'{' closed' if self._conn is None else ''}>"

    # ----- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction under the thread lock: IMMEDIATE (takes the write lock now) or a read snapshot."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ----- writing ------------------------------------------------------------------------------
    def record(
        self,
        source: str,
        *,
        reports: list[dict[str, Any]],
        admitted: bool,
        env_name: str | None,
        lineage: dict[str, Any] | None = None,
        run_id: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> Record:
        """Store one validated candidate with its stage reports, in one transaction.

        ``failed_stage`` and ``reason`` come from the first report with ``passed`` False (an
        admitted candidate has none: its reason is ``"admitted"``). For an admitted candidate
        ``env_name`` is required and ``info`` may give ``version, asymmetry, family, description,
        calibration, novelty``. Admitting a name already admitted with the same source returns the
        existing record; with a different source it raises ``ValueError``.
        """
        data = _encode(source)
        if not isinstance(admitted, bool):
            raise ValueError(f"admitted must be True or False, got {admitted!r}")
        rows = _normalise_reports(reports)
        failed = next((row for row in rows if not row["passed"]), None)
        if admitted:
            if not valid_name(env_name):
                raise ValueError(
                    f"an admitted environment needs a name matching [a-z][a-z0-9_]{{0,63}}, got {env_name!r}"
                )
            if failed is not None:
                raise ValueError(
                    f"an admitted candidate cannot have a failed stage, but '{failed['name']}' did not pass"
                )
            failed_stage, reason = None, "admitted"
        else:
            if env_name is not None and not isinstance(env_name, str):
                raise ValueError(f"env_name must be a string or None, got {type(env_name).__name__}")
            if failed is None:
                failed_stage, reason = None, "rejected without a failing stage report"
            else:
                failed_stage, reason = failed["name"], failed["reason"]
        lineage_json = _dumps(_normalise_lineage(lineage), "lineage")
        details = _normalise_info(info)
        if run_id is not None and not isinstance(run_id, str):
            raise ValueError(f"run_id must be a string or None, got {type(run_id).__name__}")
        digest = hashlib.sha256(data).hexdigest()
        now = time.time()
        with self._transaction(write=True) as conn:
            if run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise ValueError(f"no run '{run_id}' in the archive at '{self.root}'; start one with start_run()")
            if admitted:
                existing = conn.execute(
                    "SELECT source_hash, candidate_id FROM environments WHERE name = ?", (env_name,)
                ).fetchone()
                if existing is not None:
                    if existing[0] != digest:
                        raise ValueError(
                            f"an environment named '{env_name}' is already in the archive (from {existing[0][:12]})"
                        )
                    self._store_source(digest, data)  # heals a deleted file; a no-op otherwise
                    return self._records(conn, "WHERE c.id = ?", (existing[1],))[0]
            # Inside the write transaction: the file is durable before the row commits, and
            # check(repair=True), which deletes orphans under the same lock, cannot interleave.
            self._store_source(digest, data)
            cursor = conn.execute(
                "INSERT INTO candidates (source_hash, env_name, admitted, failed_stage, reason, lineage, created_at,"
                " run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (digest, env_name, int(admitted), failed_stage, reason, lineage_json, now, run_id),
            )
            candidate_id = cursor.lastrowid
            conn.executemany(
                "INSERT INTO stage_reports (candidate_id, position, name, passed, skipped, reason, report)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        candidate_id,
                        position,
                        row["name"],
                        int(row["passed"]),
                        int(row["skipped"]),
                        row["reason"],
                        row["json"],
                    )
                    for position, row in enumerate(rows)
                ],
            )
            if admitted:
                conn.execute(
                    "INSERT INTO environments (name, candidate_id, source_hash, version, asymmetry, family, description,"
                    " calibration, novelty, admitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        env_name,
                        candidate_id,
                        digest,
                        details["version"],
                        details["asymmetry"],
                        details["family"],
                        details["description"],
                        details["calibration"],
                        details["novelty"],
                        now,
                    ),
                )
        return Record(
            id=int(candidate_id or 0),
            source_hash=digest,
            env_name=env_name,
            admitted=admitted,
            failed_stage=failed_stage,
            reason=reason,
            lineage=json.loads(lineage_json),
            created_at=now,
            run_id=run_id,
            reports=[json.loads(row["json"]) for row in rows],
        )

    def _store_source(self, digest: str, data: bytes) -> None:
        path = self.sources_dir / f"{digest}.py"
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() == digest:
                return
        except FileNotFoundError:
            pass
        _write_atomic(path, data)

    def start_run(self, config: dict[str, Any]) -> str:
        """Open a synthesis run; returns its id (a uuid4 hex) for ``record(run_id=...)``."""
        if not isinstance(config, dict):
            raise ValueError(f"a run's config must be a dict, got {type(config).__name__}")
        run_id = uuid.uuid4().hex
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO runs (id, started_at, config) VALUES (?, ?, ?)",
                (run_id, time.time(), _dumps(config, "the run config")),
            )
        return run_id

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        """Close a run with its summary (calling it again replaces the summary)."""
        if not isinstance(summary, dict):
            raise ValueError(f"a run's summary must be a dict, got {type(summary).__name__}")
        text = _dumps(summary, "the run summary")
        with self._transaction(write=True) as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?", (time.time(), text, run_id)
            )
            if cursor.rowcount == 0:
                raise ValueError(f"no run '{run_id}' in the archive at '{self.root}'")

    # ----- reading ------------------------------------------------------------------------------
    def get(self, name: str) -> ArchivedEnvironment | None:
        """The admitted environment called ``name``, or None."""
        _require_str(name, "an environment name")
        with self._transaction(write=False) as conn:
            found = self._environments(conn, "WHERE e.name = ?", (name,))
        return found[0] if found else None

    def path_for(self, name: str) -> Path | None:
        """The source file of the admitted environment ``name`` (hash-checked), or None if there is none."""
        _require_str(name, "an environment name")
        if not valid_name(name):
            return None
        with self._lock:
            row = self.conn.execute("SELECT source_hash FROM environments WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        path = self.sources_dir / f"{row[0]}.py"
        self._read_source(row[0], label=f"environment '{name}'")
        return path

    def environments(self) -> list[ArchivedEnvironment]:
        """Every admitted environment, sorted by name."""
        with self._transaction(write=False) as conn:
            return self._environments(conn, "", ())

    def names(self) -> list[str]:
        """The names of the admitted environments, sorted."""
        with self._lock:
            return [row[0] for row in self.conn.execute("SELECT name FROM environments ORDER BY name")]

    def candidates(
        self, admitted: bool | None = None, limit: int | None = None, run_id: str | None = None
    ) -> list[Record]:
        """Recorded candidates, newest first; filter by admitted or not, by run, and cap the count."""
        if admitted not in (None, True, False):
            raise ValueError(f"admitted must be True, False or None, got {admitted!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
        clauses, params = _filters(admitted=admitted, run_id=run_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = f" ORDER BY c.id DESC LIMIT {int(limit) if limit is not None else -1}"
        with self._transaction(write=False) as conn:
            return self._records(conn, where + tail, params)

    def source(self, hash_or_name: str) -> str:
        """The source text of an admitted environment by name, or of any candidate by hash (or a unique 8+ char prefix)."""
        _require_str(hash_or_name, "a name or source hash")
        key = hash_or_name.strip()
        with self._lock:
            conn = self.conn
            row = conn.execute("SELECT source_hash FROM environments WHERE name = ?", (key,)).fetchone()
            if row is not None:
                return self._read_source(row[0], label=f"environment '{key}'")
            if _HASH.fullmatch(key):
                digest = key
            elif _HASH_PREFIX.fullmatch(key):
                rows = conn.execute(
                    "SELECT DISTINCT source_hash FROM candidates WHERE source_hash >= ? AND source_hash < ? LIMIT 2",
                    (key, key + "g"),
                ).fetchall()
                if len(rows) > 1:
                    raise ValueError(f"the hash prefix '{key}' matches several sources in the archive; give more of it")
                digest = rows[0][0] if rows else ""
            else:
                digest = ""
        if not digest or not (self.sources_dir / f"{digest}.py").exists():
            raise ValueError(f"no environment or source '{hash_or_name}' in the archive at '{self.root}'")
        return self._read_source(digest, label=f"source {digest[:12]}")

    def _read_source(self, digest: str, label: str) -> str:
        path = self.sources_dir / f"{digest}.py"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"the source file of {label} is missing: '{path}' (run Archive.check())") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArchiveError(f"the source file of {label} does not match its hash: '{path}' (run Archive.check())")
        return data.decode("utf-8")

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first: ``{"id", "started_at", "finished_at", "config", "summary", "candidates", "admitted"}``."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT r.id, r.started_at, r.finished_at, r.config, r.summary, count(c.id), coalesce(sum(c.admitted), 0)"
                " FROM runs r LEFT JOIN candidates c ON c.run_id = r.id GROUP BY r.id ORDER BY r.started_at DESC, r.id"
            ).fetchall()
        return [
            {
                "id": run_id,
                "started_at": started,
                "finished_at": finished,
                "config": json.loads(config),
                "summary": None if summary is None else json.loads(summary),
                "candidates": count,
                "admitted": admitted,
            }
            for run_id, started, finished, config, summary, count, admitted in rows
        ]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run as in ``runs()``, or None."""
        return next((run for run in self.runs() if run["id"] == run_id), None)

    def funnel(self, run_id: str | None = None) -> dict[str, Any]:
        """How many candidates passed each stage and why the rest failed (optionally for one run).

        ``{"candidates": n, "passed": {stage: n}, "skipped": {stage: n}, "failed": {stage: n},
        "reasons": {stage: [[reason, n], ...]} (top 10 per stage), "admitted": n}``; stages in
        pipeline order (by mean position in the reports). A skipped stage counts as passed (its
        report says so) and also in ``skipped``.
        """
        clauses, params = _filters(run_id=run_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        also = f"AND {' AND '.join(clauses)}" if clauses else ""
        with self._transaction(write=False) as conn:
            total, admitted = conn.execute(
                f"SELECT count(*), coalesce(sum(c.admitted), 0) FROM candidates c {where}", params
            ).fetchone()
            stages = conn.execute(
                "SELECT r.name, avg(r.position) AS first,"
                " count(DISTINCT CASE WHEN r.passed THEN r.candidate_id END),"
                " count(DISTINCT CASE WHEN r.skipped THEN r.candidate_id END)"
                f" FROM stage_reports r JOIN candidates c ON c.id = r.candidate_id {where}"
                " GROUP BY r.name ORDER BY first, r.name",
                params,
            ).fetchall()
            failures = conn.execute(
                "SELECT coalesce(c.failed_stage, ?), c.reason, count(*) AS n FROM candidates c"
                f" WHERE c.admitted = 0 {also} GROUP BY c.failed_stage, c.reason ORDER BY n DESC, c.reason",
                (NO_STAGE, *params),
            ).fetchall()
        passed = {name: n for name, _, n, _ in stages}
        skipped = {name: n for name, _, _, n in stages if n}
        order = {name: index for index, name in enumerate(passed)}
        failed: dict[str, int] = {}
        reasons: dict[str, list[list[Any]]] = {}
        for stage, reason, n in sorted(failures, key=lambda row: order.get(row[0], len(order))):
            failed[stage] = failed.get(stage, 0) + n
            top = reasons.setdefault(stage, [])
            if len(top) < 10:
                top.append([reason, n])
        return {
            "candidates": total,
            "passed": passed,
            "skipped": skipped,
            "failed": failed,
            "reasons": reasons,
            "admitted": admitted,
        }

    def _records(self, conn: sqlite3.Connection, tail: str, params: tuple[Any, ...]) -> list[Record]:
        rows = conn.execute(
            "SELECT c.id, c.source_hash, c.env_name, c.admitted, c.failed_stage, c.reason, c.lineage, c.created_at,"
            f" c.run_id FROM candidates c {tail}",
            params,
        ).fetchall()
        reports = self._reports(conn, [row[0] for row in rows])
        return [
            Record(
                id=cid,
                source_hash=digest,
                env_name=name,
                admitted=bool(admitted),
                failed_stage=stage,
                reason=reason,
                lineage=json.loads(lineage),
                created_at=created,
                run_id=run_id,
                reports=reports.get(cid, []),
            )
            for cid, digest, name, admitted, stage, reason, lineage, created, run_id in rows
        ]

    def _environments(self, conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[ArchivedEnvironment]:
        rows = conn.execute(
            "SELECT e.name, e.source_hash, e.version, e.asymmetry, e.family, e.description, e.calibration, e.novelty,"
            " e.admitted_at, e.candidate_id, c.lineage FROM environments e JOIN candidates c ON c.id = e.candidate_id"
            f" {where} ORDER BY e.name",
            params,
        ).fetchall()
        reports = self._reports(conn, [row[9] for row in rows])
        return [
            ArchivedEnvironment(
                name=name,
                source_hash=digest,
                path=self.sources_dir / f"{digest}.py",
                version=version,
                asymmetry=asymmetry,
                family=family,
                description=description,
                calibration=_loads(calibration),
                novelty=_loads(novelty),
                lineage=json.loads(lineage),
                reports=reports.get(cid, []),
                admitted_at=admitted_at,
                candidate_id=cid,
            )
            for name, digest, version, asymmetry, family, description, calibration, novelty, admitted_at, cid, lineage in rows
        ]

    @staticmethod
    def _reports(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for cid, report in conn.execute(
                f"SELECT candidate_id, report FROM stage_reports WHERE candidate_id IN ({marks})"
                " ORDER BY candidate_id, position",
                chunk,
            ):
                found.setdefault(cid, []).append(json.loads(report))
        return found

    # ----- export and integrity -----------------------------------------------------------------
    def export(self, dest: str | os.PathLike[str]) -> list[Path]:
        """Write each admitted environment as ``dest/<name>.py`` plus ``dest/manifest.json``; returns the paths.

        Files already there with the same content are kept; a file with different content makes
        the whole export refuse (``ValueError``) before anything is written.
        """
        if not isinstance(dest, (str, os.PathLike)):
            raise ValueError(f"export needs a directory path, got {type(dest).__name__}")
        dest = Path(dest).expanduser()
        if dest.exists() and not dest.is_dir():
            raise ValueError(f"cannot export to '{dest}': it is not a directory")
        envs = self.environments()
        planned: list[tuple[Path, bytes]] = []
        manifest = []
        for env in envs:
            planned.append((dest / f"{env.name}.py", _encode(self._read_source(env.source_hash, f"'{env.name}'"))))
            manifest.append(
                {
                    "name": env.name,
                    "file": f"{env.name}.py",
                    "hash": env.source_hash,
                    "version": env.version,
                    "asymmetry": env.asymmetry,
                    "family": env.family,
                    "description": env.description,
                    "lineage": env.lineage,
                    "calibration": env.calibration,
                    "novelty": env.novelty,
                    "reports": env.reports,
                    "admitted_at": env.admitted_at,
                }
            )
        text = json.dumps(
            {"format": "envfoundry-archive-export", "schema_version": SCHEMA_VERSION, "environments": manifest},
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )
        planned.append((dest / "manifest.json", (text + "\n").encode("utf-8")))
        conflicts = [path for path, data in planned if path.exists() and not _same_file(path, data)]
        if conflicts:
            shown = ", ".join(f"'{path.name}'" for path in conflicts[:3]) + (", ..." if len(conflicts) > 3 else "")
            raise ValueError(
                f"refusing to export to '{dest}': {len(conflicts)} existing file(s) differ from the archive ({shown})"
            )
        dest.mkdir(parents=True, exist_ok=True)
        for path, data in planned:
            if not path.exists():
                _write_atomic(path, data)
        return [path for path, _ in planned]

    def check(self, repair: bool = False) -> dict[str, Any]:
        """Integrity of the archive: SQLite's own check, foreign keys, every referenced source file
        present and matching its hash, and orphan files in ``sources/`` (left by a crash between
        writing a file and committing its row). ``repair=True`` removes the orphans.

        Returns ``{"ok", "path", "integrity", "foreign_key_violations", "sources", "missing",
        "corrupt", "orphans", "removed"}``; ``ok`` ignores orphans, which are harmless.
        """
        with self._transaction(write=repair) as conn:
            integrity = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
            violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            referenced = {
                row[0]
                for row in conn.execute(
                    "SELECT source_hash FROM candidates UNION SELECT source_hash FROM environments"
                ).fetchall()
            }
            missing, corrupt = [], []
            for digest in sorted(referenced):
                path = self.sources_dir / f"{digest}.py"
                try:
                    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                        corrupt.append(digest)
                except FileNotFoundError:
                    missing.append(digest)
            expected = {f"{digest}.py" for digest in referenced}
            orphans = sorted(
                entry.name for entry in os.scandir(self.sources_dir) if entry.is_file() and entry.name not in expected
            )
            removed = []
            if repair:
                # Under the write lock: no record() in any process is between writing a file and committing.
                for name in orphans:
                    with contextlib.suppress(FileNotFoundError):
                        (self.sources_dir / name).unlink()
                    removed.append(name)
        return {
            "ok": integrity == ["ok"] and violations == 0 and not missing and not corrupt,
            "path": str(self.root),
            "integrity": integrity,
            "foreign_key_violations": violations,
            "sources": len(referenced),
            "missing": missing,
            "corrupt": corrupt,
            "orphans": orphans,
            "removed": removed,
        }


# ----- helpers ------------------------------------------------------------------------------------
def _encode(source: object) -> bytes:
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, got {type(source).__name__}")
    if not source.strip():
        raise ValueError("source is empty")
    try:
        return source.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"source is not valid Unicode text: {exc}") from None


def _require_str(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"expected {what} as a string, got {type(value).__name__}")


def _filters(*, admitted: bool | None = None, run_id: str | None = None) -> tuple[list[str], tuple[Any, ...]]:
    clauses: list[str] = []
    params: list[Any] = []
    if admitted is not None:
        clauses.append("c.admitted = ?")
        params.append(int(admitted))
    if run_id is not None:
        _require_str(run_id, "a run id")
        clauses.append("c.run_id = ?")
        params.append(run_id)
    return clauses, tuple(params)


def _jsonable(value: Any) -> Any:
    """Turn the usual non-JSON values of stage figures (numpy scalars and arrays, sets, paths) into JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_jsonable, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _normalise_reports(reports: object) -> list[dict[str, Any]]:
    if not isinstance(reports, (list, tuple)):
        raise ValueError(f"reports must be a list of stage report dicts, got {type(reports).__name__}")
    rows = []
    for position, report in enumerate(reports):
        if not isinstance(report, dict):
            raise ValueError(f"report {position} must be a dict, got {type(report).__name__}")
        name = report.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"report {position} needs a non-empty string 'name', got {name!r}")
        passed = report.get("passed")
        if not isinstance(passed, bool):
            raise ValueError(f"report '{name}' needs 'passed' True or False, got {passed!r}")
        skipped = report.get("skipped", False)
        if not isinstance(skipped, bool):
            raise ValueError(f"report '{name}' needs 'skipped' True or False, got {skipped!r}")
        reason = report.get("reason") or ""
        if not isinstance(reason, str):
            raise ValueError(f"report '{name}' needs a string 'reason', got {type(reason).__name__}")
        rows.append(
            {
                "name": name,
                "passed": passed,
                "skipped": skipped,
                "reason": reason,
                "json": _dumps(report, f"report '{name}'"),
            }
        )
    return rows


def _normalise_lineage(lineage: object) -> dict[str, Any]:
    if lineage is None:
        lineage = {}
    if not isinstance(lineage, dict):
        raise ValueError(
            f"lineage must be a dict like {{'mode', 'parents', 'generator'}}, got {type(lineage).__name__}"
        )
    parents = lineage.get("parents") or []
    if not isinstance(parents, (list, tuple)):
        raise ValueError(f"lineage['parents'] must be a list, got {type(parents).__name__}")
    return {**lineage, "mode": lineage.get("mode"), "parents": list(parents), "generator": lineage.get("generator")}


def _normalise_info(info: object) -> dict[str, Any]:
    if info is None:
        info = {}
    if not isinstance(info, dict):
        raise ValueError(f"info must be a dict, got {type(info).__name__}")
    unknown = sorted(set(info) - set(INFO_KEYS))
    if unknown:
        raise ValueError(f"info has unknown keys {unknown}; it may carry {list(INFO_KEYS)}")
    version = info.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValueError(f"info['version'] must be an integer, got {version!r}")
    for key in ("asymmetry", "family", "description"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise ValueError(f"info['{key}'] must be a string, got {type(info[key]).__name__}")
    return {
        "version": version,
        "asymmetry": info.get("asymmetry"),
        "family": info.get("family"),
        "description": info.get("description"),
        "calibration": None if info.get("calibration") is None else _dumps(info["calibration"], "info['calibration']"),
        "novelty": None if info.get("novelty") is None else _dumps(info["novelty"], "info['novelty']"),
    }


def _same_file(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open directories (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse directory fsync
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the complete new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
