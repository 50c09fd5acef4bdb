"""The archive's one write path: every change runs inside ``Database.write()``, under both locks, whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from envfoundry.archive import Archive, ArchiveError, source_hash
from envfoundry.archive.schema import Database

SOURCE = "class Env:\n    name = 'solid'\n"
PASSING = [{"name": "static", "passed": True}, {"name": "execution", "passed": True}]
REJECTED_SOURCE = "import os\n"
REJECTED = [{"name": "static", "passed": False, "reason": "imports os"}]
# Settings a connection takes before its first transaction; every other statement must run inside one.
SETTINGS = ("PRAGMA busy_timeout", "PRAGMA journal_mode", "PRAGMA synchronous", "PRAGMA foreign_keys")
CHANGES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA (user_version|application_id) =)", re.I)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Every SQL statement run and every file replaced or removed, each with the transaction it ran in."""
    log: dict[str, list] = {"sql": [], "files": [], "writes": []}
    modes: list[str] = []

    def mode() -> str | None:
        return modes[-1] if modes else None

    def marked(name: str, real):
        @contextlib.contextmanager
        def transaction(self: Database):
            modes.append(name)
            if name == "write":
                log["writes"].append(self.path)
            try:
                with real(self) as conn:
                    yield conn
            finally:
                modes.pop()

        return transaction

    real_connect, real_unlink, real_replace = sqlite3.connect, os.unlink, os.replace

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: log["sql"].append((mode(), sql)))
        return conn

    def unlink(path, *args, **kwargs):
        log["files"].append((mode(), Path(path)))
        return real_unlink(path, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        log["files"].append((mode(), Path(dst)))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(Database, "write", marked("write", Database.write))
    monkeypatch.setattr(Database, "read", marked("read", Database.read))
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "replace", replace)
    return log


@pytest.fixture
def explode_at(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A plan ``{"prefix", "error"}``: the archive's connection raises ``error`` instead of running a
    statement that starts with ``prefix``; an empty plan runs everything."""
    plan: dict = {}

    class Exploding(sqlite3.Connection):
        def execute(self, sql, *args):
            if plan and sql.lstrip().startswith(plan["prefix"]):
                raise plan["error"]
            return super().execute(sql, *args)

        def executemany(self, sql, *args):
            if plan and sql.lstrip().startswith(plan["prefix"]):
                raise plan["error"]
            return super().executemany(sql, *args)

    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: real_connect(*args, factory=Exploding, **kwargs))
    return plan


def assert_unlocked(archive: Archive) -> None:
    """Neither lock is left held: another connection takes SQLite's write lock, another thread reads."""
    with contextlib.closing(sqlite3.connect(archive.db_path, timeout=0.1, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    done = threading.Event()
    threading.Thread(target=lambda: (archive.names(), done.set()), daemon=True).start()
    assert done.wait(5), "another thread could not read the archive"


def test_every_change_to_the_archive_runs_inside_database_write(tmp_path: Path, traced: dict[str, list]) -> None:
    root = tmp_path / "archive"
    orphan = f"{'0' * 64}.py"
    with Archive(root) as archive:
        run = archive.start_run({"budget": 3})
        record = archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid", run_id=run)
        archive.record(REJECTED_SOURCE, reports=REJECTED, admitted=False, env_name=None, run_id=run)
        archive.path_for("solid").write_text("damaged\n")
        assert archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid") == record  # heals the file
        with pytest.raises(ValueError, match="already in the archive"):
            archive.record("y = 2\n", reports=PASSING, admitted=True, env_name="solid")
        archive.finish_run(run, {"admitted": 1})
        (archive.sources_dir / orphan).write_text("left by a crash\n")
        assert archive.check(repair=True)["removed"] == [orphan]
        # Every reader too, to show that none of them changes anything.
        results = (
            archive.get("solid"), archive.path_for("solid"), archive.environments(), archive.names(),
            archive.candidates(), archive.runs(), archive.run(run), archive.source("solid"),
            archive.source(record.source_hash[:10]), archive.funnel(run), archive.check(),
            archive.export(tmp_path / "export"),
        )  # fmt: skip
        assert all(results)
    with Archive(root) as archive:
        assert archive.names() == ["solid"] and archive.check()["ok"]

    statements = traced["sql"]
    changes = [(mode, sql) for mode, sql in statements if CHANGES.match(sql)]
    assert {sql.split()[0].upper() for _, sql in changes} == {"CREATE", "INSERT", "UPDATE", "PRAGMA"}
    assert [sql for mode, sql in changes if mode != "write"] == []
    # Schema creation, start_run, three records and the refused one, finish_run, the repair; reopening writes nothing.
    assert len(traced["writes"]) == 8
    assert [mode for mode, sql in statements if sql.strip().upper() == "BEGIN IMMEDIATE"] == ["write"] * 8
    assert [sql for mode, sql in statements if mode is None and not sql.startswith(SETTINGS)] == []

    sources = [(mode, path.name) for mode, path in traced["files"] if path.parent == root / "sources"]
    admitted, rejected = f"{source_hash(SOURCE)}.py", f"{source_hash(REJECTED_SOURCE)}.py"
    assert sources == [("write", admitted), ("write", rejected), ("write", admitted), ("write", orphan)]


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        ("INSERT INTO stage_reports", KeyboardInterrupt()),
        ("INSERT INTO environments", sqlite3.OperationalError("disk I/O error")),
    ],
)
def test_a_record_that_fails_midway_leaves_nothing_half_written(
    tmp_path: Path, explode_at: dict, prefix: str, error: BaseException
) -> None:
    with Archive(tmp_path / "archive") as archive:
        run = archive.start_run({})
        explode_at.update(prefix=prefix, error=error)
        with pytest.raises(type(error)):
            archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid", run_id=run)
        explode_at.clear()
        assert archive.candidates() == [] and archive.names() == [] and archive.funnel()["candidates"] == 0
        assert archive.run(run)["candidates"] == 0
        report = archive.check()
        # The source file is written before any row: left alone it is a harmless orphan.
        assert report["ok"] and report["orphans"] == [f"{source_hash(SOURCE)}.py"]
        assert_unlocked(archive)
        archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid", run_id=run)
        assert archive.names() == ["solid"] and archive.check()["orphans"] == []


def test_a_statement_aborted_midway_rolls_back_the_whole_record(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    Archive(root).close()
    with contextlib.closing(sqlite3.connect(root / "archive.sqlite3", isolation_level=None)) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON stage_reports WHEN NEW.name = 'refused'"
            " BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    with Archive(root) as archive:
        reports = [*PASSING, {"name": "refused", "passed": True}]
        with pytest.raises(sqlite3.IntegrityError, match="refused by trigger"):
            archive.record(SOURCE, reports=reports, admitted=True, env_name="solid")
        # ABORT undoes only its own row: the candidate and the first two reports are gone because
        # the whole transaction was rolled back.
        assert archive.candidates() == [] and archive.funnel()["passed"] == {}
        assert_unlocked(archive)
        archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid")
        assert [len(env.reports) for env in archive.environments()] == [2]


def test_schema_creation_interrupted_midway_leaves_an_empty_database(tmp_path: Path, explode_at: dict) -> None:
    root = tmp_path / "archive"
    explode_at.update(prefix="CREATE TABLE environments", error=sqlite3.OperationalError("disk I/O error"))
    with pytest.raises(ArchiveError, match="disk I/O error"):
        Archive(root)
    explode_at.clear()
    with contextlib.closing(sqlite3.connect(root / "archive.sqlite3")) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    with Archive(root) as archive:  # the next open creates the schema whole
        archive.record(SOURCE, reports=PASSING, admitted=True, env_name="solid")
        assert archive.names() == ["solid"] and archive.check()["ok"]


def test_a_write_holds_both_locks_until_it_ends(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    finished: dict[str, object] = {}

    def start(name: str, call) -> threading.Thread:
        thread = threading.Thread(target=lambda: finished.__setitem__(name, call()), daemon=True)
        thread.start()
        return thread

    with archive._db.write():
        # BEGIN IMMEDIATE takes SQLite's write lock at once, so another process queues from the start.
        with contextlib.closing(sqlite3.connect(archive.db_path, timeout=0.1, isolation_level=None)) as other:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        threads = [start("run", lambda: archive.start_run({})), start("names", archive.names)]
        time.sleep(0.3)
        assert finished == {}  # writers and readers in other threads wait on the same lock
    for thread in threads:
        thread.join(5)
    assert set(finished) == {"run", "names"} and archive.run(finished["run"]) is not None
    archive.close()
    with pytest.raises(ArchiveError, match="is closed"):
        archive.start_run({})
