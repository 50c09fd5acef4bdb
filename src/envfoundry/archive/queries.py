"""Reading the archive: admitted environments, candidates, runs, sources, the validation funnel, export.

Every query runs in one ``Database.read()`` snapshot, so a list and the reports attached to its
rows come from the same moment even while another process writes. Nothing here changes the
archive; ``export`` writes only into the directory it is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfoundry.archive.schema import (
    SCHEMA_VERSION,
    ArchiveError,
    Database,
    encode_source,
    valid_name,
)
from envfoundry.core.files import write_atomic
from envfoundry.errors import InvalidInputError

_HASH = re.compile(r"[0-9a-f]{64}")
_HASH_PREFIX = re.compile(r"[0-9a-f]{8,64}")
# The funnel's stage for a rejected candidate that came with no failing report.
NO_STAGE = "(none)"


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


class ArchiveReader:
    """The read half of ``Archive``: needs ``root``, ``sources_dir`` and ``_db`` from it."""

    root: Path
    sources_dir: Path
    _db: Database

    def get(self, name: str) -> ArchivedEnvironment | None:
        """The admitted environment called ``name``, or None."""
        _require_str(name, "an environment name")
        with self._db.read() as conn:
            found = load_environments(conn, self.sources_dir, "WHERE e.name = ?", (name,))
        return found[0] if found else None

    def path_for(self, name: str) -> Path | None:
        """The source file of the admitted environment ``name`` (hash-checked), or None if there is none."""
        _require_str(name, "an environment name")
        if not valid_name(name):
            return None
        with self._db.read() as conn:
            row = conn.execute("SELECT source_hash FROM environments WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        read_source(self.sources_dir, row[0], label=f"environment '{name}'")
        return self.sources_dir / f"{row[0]}.py"

    def environments(self) -> list[ArchivedEnvironment]:
        """Every admitted environment, sorted by name."""
        with self._db.read() as conn:
            return load_environments(conn, self.sources_dir, "", ())

    def names(self) -> list[str]:
        """The names of the admitted environments, sorted."""
        with self._db.read() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM environments ORDER BY name")]

    def candidates(
        self, admitted: bool | None = None, limit: int | None = None, run_id: str | None = None
    ) -> list[Record]:
        """Recorded candidates, newest first; filter by admitted or not, by run, and cap the count."""
        if admitted not in (None, True, False):
            raise InvalidInputError(f"admitted must be True, False or None, got {admitted!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a non-negative integer or None, got {limit!r}")
        clauses, params = _filters(admitted=admitted, run_id=run_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = f" ORDER BY c.id DESC LIMIT {int(limit) if limit is not None else -1}"
        with self._db.read() as conn:
            return load_records(conn, where + tail, params)

    def source(self, hash_or_name: str) -> str:
        """The source text of an admitted environment by name, or of any candidate by hash (or a unique 8+ char prefix)."""
        _require_str(hash_or_name, "a name or source hash")
        key = hash_or_name.strip()
        with self._db.read() as conn:
            row = conn.execute("SELECT source_hash FROM environments WHERE name = ?", (key,)).fetchone()
            if row is not None:
                return read_source(self.sources_dir, row[0], label=f"environment '{key}'")
            if _HASH.fullmatch(key):
                digest = key
            elif _HASH_PREFIX.fullmatch(key):
                rows = conn.execute(
                    "SELECT DISTINCT source_hash FROM candidates WHERE source_hash >= ? AND source_hash < ? LIMIT 2",
                    (key, key + "g"),
                ).fetchall()
                if len(rows) > 1:
                    raise InvalidInputError(f"the hash prefix '{key}' matches several sources in the archive; give more of it")
                digest = rows[0][0] if rows else ""
            else:
                digest = ""
        if not digest or not (self.sources_dir / f"{digest}.py").exists():
            raise InvalidInputError(f"no environment or source '{hash_or_name}' in the archive at '{self.root}'")
        return read_source(self.sources_dir, digest, label=f"source {digest[:12]}")

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first: ``{"id", "started_at", "finished_at", "config", "summary", "candidates", "admitted"}``."""
        with self._db.read() as conn:
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
                "summary": _loads(summary),
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
        with self._db.read() as conn:
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

    def export(self, dest: str | os.PathLike[str]) -> list[Path]:
        """Write each admitted environment as ``dest/<name>.py`` plus ``dest/manifest.json``; returns the paths.

        Files already there with the same content are kept; a file with different content makes
        the whole export refuse (``ValueError``) before anything is written.
        """
        if not isinstance(dest, (str, os.PathLike)):
            raise InvalidInputError(f"export needs a directory path, got {type(dest).__name__}")
        dest = Path(dest).expanduser()
        if dest.exists() and not dest.is_dir():
            raise InvalidInputError(f"cannot export to '{dest}': it is not a directory")
        planned: list[tuple[Path, bytes]] = []
        manifest = []
        for env in self.environments():
            source = read_source(self.sources_dir, env.source_hash, f"'{env.name}'")
            planned.append((dest / f"{env.name}.py", encode_source(source)))
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
            raise InvalidInputError(
                f"refusing to export to '{dest}': {len(conflicts)} existing file(s) differ from the archive ({shown})"
            )
        dest.mkdir(parents=True, exist_ok=True)
        for path, data in planned:
            if not path.exists():
                write_atomic(path, data)
        return [path for path, _ in planned]


# ----- rows to objects (inside a transaction the caller holds) -----------------------------------
def load_records(conn: sqlite3.Connection, tail: str, params: tuple[Any, ...]) -> list[Record]:
    """The candidates selected by ``tail`` (a WHERE/ORDER BY/LIMIT over ``candidates c``), with their reports."""
    rows = conn.execute(
        "SELECT c.id, c.source_hash, c.env_name, c.admitted, c.failed_stage, c.reason, c.lineage, c.created_at,"
        f" c.run_id FROM candidates c {tail}",
        params,
    ).fetchall()
    reports = _load_reports(conn, [row[0] for row in rows])
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


def load_environments(
    conn: sqlite3.Connection, sources_dir: Path, where: str, params: tuple[Any, ...]
) -> list[ArchivedEnvironment]:
    """The admitted environments selected by ``where`` (over ``environments e``), sorted by name."""
    rows = conn.execute(
        "SELECT e.name, e.source_hash, e.version, e.asymmetry, e.family, e.description, e.calibration, e.novelty,"
        " e.admitted_at, e.candidate_id, c.lineage FROM environments e JOIN candidates c ON c.id = e.candidate_id"
        f" {where} ORDER BY e.name",
        params,
    ).fetchall()
    reports = _load_reports(conn, [row[9] for row in rows])
    return [
        ArchivedEnvironment(
            name=name,
            source_hash=digest,
            path=sources_dir / f"{digest}.py",
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


def _load_reports(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    # In chunks: SQLite caps the number of ? parameters in one statement.
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


def read_source(sources_dir: Path, digest: str, label: str) -> str:
    """The text of the stored source ``digest``; a missing or altered file is an ``ArchiveError``."""
    path = sources_dir / f"{digest}.py"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArchiveError(f"the source file of {label} is missing: '{path}' (run Archive.check())") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise ArchiveError(f"the source file of {label} does not match its hash: '{path}' (run Archive.check())")
    return data.decode("utf-8")


def _require_str(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"expected {what} as a string, got {type(value).__name__}")


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


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _same_file(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False
