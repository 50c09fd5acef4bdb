"""Changing the archive: recording candidates, opening and closing runs, repairing orphans.

Every change goes through ``Database.write()``: one ``BEGIN IMMEDIATE`` transaction under the
thread lock, committed whole or rolled back whole, whatever the exception. Crash safety rests on
one more ordering rule: a source file is written (temp file, fsync, rename, fsync of the
directory) inside that transaction, before the rows that reference it commit. A killed process
can leave a source file that no row references (an orphan: harmless, ``check(repair=True)``
removes it) but never a row without its file, and every ``record`` that returned is durable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from envfoundry.archive.queries import Record, load_records
from envfoundry.archive.schema import Database, encode_source, valid_name
from envfoundry.core.files import write_atomic
from envfoundry.errors import InvalidInputError

INFO_KEYS = ("version", "asymmetry", "family", "description", "calibration", "novelty")


class ArchiveWriter:
    """The write half of ``Archive``: needs ``root``, ``sources_dir`` and ``_db`` from it."""

    root: Path
    sources_dir: Path
    _db: Database

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
        data = encode_source(source)
        if not isinstance(admitted, bool):
            raise InvalidInputError(f"admitted must be True or False, got {admitted!r}")
        rows = _normalise_reports(reports)
        failed = next((row for row in rows if not row["passed"]), None)
        if admitted:
            if not valid_name(env_name):
                raise InvalidInputError(
                    f"an admitted environment needs a name matching [a-z][a-z0-9_]{{0,63}}, got {env_name!r}"
                )
            if failed is not None:
                raise InvalidInputError(
                    f"an admitted candidate cannot have a failed stage, but '{failed['name']}' did not pass"
                )
            failed_stage, reason = None, "admitted"
        else:
            if env_name is not None and not isinstance(env_name, str):
                raise InvalidInputError(f"env_name must be a string or None, got {type(env_name).__name__}")
            if failed is None:
                failed_stage, reason = None, "rejected without a failing stage report"
            else:
                failed_stage, reason = failed["name"], failed["reason"]
        lineage_json = _dumps(_normalise_lineage(lineage), "lineage")
        details = _normalise_info(info)
        if run_id is not None and not isinstance(run_id, str):
            raise InvalidInputError(f"run_id must be a string or None, got {type(run_id).__name__}")
        digest = hashlib.sha256(data).hexdigest()
        now = time.time()
        with self._db.write() as conn:
            if run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise InvalidInputError(f"no run '{run_id}' in the archive at '{self.root}'; start one with start_run()")
            if admitted:
                existing = conn.execute(
                    "SELECT source_hash, candidate_id FROM environments WHERE name = ?", (env_name,)
                ).fetchone()
                if existing is not None:
                    if existing[0] != digest:
                        raise InvalidInputError(
                            f"an environment named '{env_name}' is already in the archive (from {existing[0][:12]})"
                        )
                    self._store_source(digest, data)  # heals a deleted file; a no-op otherwise
                    return load_records(conn, "WHERE c.id = ?", (existing[1],))[0]
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
        write_atomic(path, data)

    def start_run(self, config: dict[str, Any]) -> str:
        """Open a synthesis run; returns its id (a uuid4 hex) for ``record(run_id=...)``."""
        if not isinstance(config, dict):
            raise InvalidInputError(f"a run's config must be a dict, got {type(config).__name__}")
        run_id = uuid.uuid4().hex
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO runs (id, started_at, config) VALUES (?, ?, ?)",
                (run_id, time.time(), _dumps(config, "the run config")),
            )
        return run_id

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        """Close a run with its summary (calling it again replaces the summary)."""
        if not isinstance(summary, dict):
            raise InvalidInputError(f"a run's summary must be a dict, got {type(summary).__name__}")
        text = _dumps(summary, "the run summary")
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?", (time.time(), text, run_id)
            )
            if cursor.rowcount == 0:
                raise InvalidInputError(f"no run '{run_id}' in the archive at '{self.root}'")

    def check(self, repair: bool = False) -> dict[str, Any]:
        """Integrity of the archive: SQLite's own check, foreign keys, every referenced source file
        present and matching its hash, and orphan files in ``sources/`` (left by a crash between
        writing a file and committing its row). ``repair=True`` removes the orphans.

        Returns ``{"ok", "path", "integrity", "foreign_key_violations", "sources", "missing",
        "corrupt", "orphans", "removed"}``; ``ok`` ignores orphans, which are harmless.
        """
        # A repair holds the write lock throughout: no record() in any process is then between
        # writing a file and committing its row, so every file that looks orphaned is one.
        with self._db.write() if repair else self._db.read() as conn:
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


# ----- checking what a write is given -------------------------------------------------------------
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
        raise InvalidInputError(f"{what} must be JSON-serialisable: {exc}") from None


def _normalise_reports(reports: object) -> list[dict[str, Any]]:
    if not isinstance(reports, (list, tuple)):
        raise InvalidInputError(f"reports must be a list of stage report dicts, got {type(reports).__name__}")
    rows = []
    for position, report in enumerate(reports):
        if not isinstance(report, dict):
            raise InvalidInputError(f"report {position} must be a dict, got {type(report).__name__}")
        name = report.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"report {position} needs a non-empty string 'name', got {name!r}")
        passed = report.get("passed")
        if not isinstance(passed, bool):
            raise InvalidInputError(f"report '{name}' needs 'passed' True or False, got {passed!r}")
        skipped = report.get("skipped", False)
        if not isinstance(skipped, bool):
            raise InvalidInputError(f"report '{name}' needs 'skipped' True or False, got {skipped!r}")
        reason = report.get("reason") or ""
        if not isinstance(reason, str):
            raise InvalidInputError(f"report '{name}' needs a string 'reason', got {type(reason).__name__}")
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
        raise InvalidInputError(
            f"lineage must be a dict like {{'mode', 'parents', 'generator'}}, got {type(lineage).__name__}"
        )
    parents = lineage.get("parents") or []
    if not isinstance(parents, (list, tuple)):
        raise InvalidInputError(f"lineage['parents'] must be a list, got {type(parents).__name__}")
    return {**lineage, "mode": lineage.get("mode"), "parents": list(parents), "generator": lineage.get("generator")}


def _normalise_info(info: object) -> dict[str, Any]:
    if info is None:
        info = {}
    if not isinstance(info, dict):
        raise InvalidInputError(f"info must be a dict, got {type(info).__name__}")
    unknown = sorted(set(info) - set(INFO_KEYS))
    if unknown:
        raise InvalidInputError(f"info has unknown keys {unknown}; it may carry {list(INFO_KEYS)}")
    version = info.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInputError(f"info['version'] must be an integer, got {version!r}")
    for key in ("asymmetry", "family", "description"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise InvalidInputError(f"info['{key}'] must be a string, got {type(info[key]).__name__}")
    return {
        "version": version,
        "asymmetry": info.get("asymmetry"),
        "family": info.get("family"),
        "description": info.get("description"),
        "calibration": None if info.get("calibration") is None else _dumps(info["calibration"], "info['calibration']"),
        "novelty": None if info.get("novelty") is None else _dumps(info["novelty"], "info['novelty']"),
    }
