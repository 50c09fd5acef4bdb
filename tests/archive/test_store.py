"""The archive on real SQLite files: round trips, content addressing, funnel, export, crashes, concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from envfoundry.archive import Archive, ArchiveError, default_archive_dir, source_hash
from envfoundry.archive.schema import APPLICATION_ID, SCHEMA_VERSION

SRC = str(Path(__file__).resolve().parents[2] / "src")


def env_source(name: str, body: str = "") -> str:
    return textwrap.dedent(
        f'''
        from envfoundry import Environment, IntParam


        class Env(Environment):
            """An archived test environment."""

            name = "{name}"
            asymmetry = "algorithmic"
            space = {{"n": IntParam(1, 9)}}
            {body}
        '''
    ).lstrip()


def passing(*names: str) -> list[dict]:
    return [{"name": n, "passed": True, "skipped": False, "reason": "ok", "seconds": 0.01} for n in names]


def failing_at(stage: str, reason: str, before: tuple[str, ...] = ("static",)) -> list[dict]:
    return [*passing(*before), {"name": stage, "passed": False, "skipped": False, "reason": reason, "seconds": 0.2}]


STAGES = ("static", "execution", "novelty", "review", "calibration")


@pytest.fixture
def archive(tmp_path: Path):
    with Archive(tmp_path / "archive") as opened:
        yield opened


def admit(archive: Archive, name: str, **kwargs):
    source = kwargs.pop("source", None) or env_source(name)
    return archive.record(source, reports=passing(*STAGES), admitted=True, env_name=name, **kwargs)


# ----- round trips --------------------------------------------------------------------------------
def test_record_get_environments_candidates_round_trip(archive: Archive) -> None:
    source = env_source("alpha")
    lineage = {"mode": "mutate", "parents": ["planted_subset_sum"], "generator": "some-model"}
    info = {
        "version": 2,
        "asymmetry": "algorithmic",
        "family": "arithmetic",
        "description": "An archived test environment.",
        "calibration": {"levels": {"0.5": 0.4}},
        "novelty": {"nearest": "knapsack", "similarity": 0.31},
    }
    reports = passing(*STAGES)
    reports[2]["nearest"] = "knapsack"  # extra figures survive
    record = archive.record(source, reports=reports, admitted=True, env_name="alpha", lineage=lineage, info=info)
    assert record.admitted and record.failed_stage is None and record.reason == "admitted"
    assert record.source_hash == hashlib.sha256(source.encode()).hexdigest() == source_hash(source)
    assert record.reports == reports

    env = archive.get("alpha")
    assert env is not None
    assert env.path == archive.path_for("alpha") == archive.root / "sources" / f"{record.source_hash}.py"
    assert env.path.read_text() == source == archive.source("alpha") == archive.source(record.source_hash)
    assert archive.source(record.source_hash[:12]) == source
    assert (env.version, env.asymmetry, env.family) == (2, "algorithmic", "arithmetic")
    assert env.calibration == info["calibration"] and env.novelty == info["novelty"]
    assert env.lineage == lineage and env.reports == reports and env.candidate_id == record.id

    admit(archive, "beta")
    assert [e.name for e in archive.environments()] == ["alpha", "beta"]
    assert archive.names() == ["alpha", "beta"]
    assert [r.env_name for r in archive.candidates()] == ["beta", "alpha"]  # newest first
    assert [r.env_name for r in archive.candidates(limit=1)] == ["beta"]
    assert archive.candidates(admitted=False) == []
    assert archive.get("gamma") is None and archive.path_for("gamma") is None
    assert archive.path_for("Not A Name") is None
    with pytest.raises(ValueError, match="no environment or source 'gamma'"):
        archive.source("gamma")


def test_rejected_candidates_keep_stage_and_reason(archive: Archive) -> None:
    reports = failing_at("execution", "generate() raised ZeroDivisionError at level 0.9")
    reports.append({"name": "novelty", "passed": False, "reason": "never reached"})
    record = archive.record("x = 1\n", reports=reports, admitted=False, env_name="Bad Name!", lineage=None)
    assert not record.admitted
    assert record.failed_stage == "execution"
    assert record.reason == "generate() raised ZeroDivisionError at level 0.9"
    assert record.lineage == {"mode": None, "parents": [], "generator": None}
    (stored,) = archive.candidates(admitted=False)
    assert stored == record
    assert archive.source(record.source_hash) == "x = 1\n"
    assert archive.environments() == [] and archive.get("bad_name") is None
    bare = archive.record("y = 2\n", reports=[], admitted=False, env_name=None)
    assert bare.failed_stage is None and "rejected" in bare.reason


def test_same_source_shares_one_file(archive: Archive) -> None:
    source = env_source("shared")
    first = archive.record(source, reports=failing_at("review", "too easy"), admitted=False, env_name="shared")
    second = archive.record(source, reports=failing_at("review", "still too easy"), admitted=False, env_name="shared")
    third = admit(archive, "shared", source=source)
    assert first.id != second.id != third.id
    assert first.source_hash == second.source_hash == third.source_hash
    assert [p.name for p in (archive.root / "sources").iterdir()] == [f"{first.source_hash}.py"]


def test_readmission_is_idempotent_and_a_name_conflict_raises(archive: Archive) -> None:
    first = admit(archive, "gamma")
    again = admit(archive, "gamma")
    assert again == first
    assert len(archive.candidates()) == 1
    other = env_source("gamma", body="version = 2")
    with pytest.raises(ValueError) as excinfo:
        admit(archive, "gamma", source=other)
    assert (
        str(excinfo.value) == f"an environment named 'gamma' is already in the archive (from {first.source_hash[:12]})"
    )
    assert len(archive.candidates()) == 1
    assert archive.source("gamma") == env_source("gamma")
    # Idempotent re-admission heals a deleted source file.
    archive.path_for("gamma").unlink()
    admit(archive, "gamma")
    assert archive.check()["ok"]


@pytest.mark.parametrize("name", [None, "", "Upper", "1starts_with_digit", "has-dash", "a" * 65, "spa ce", "é"])
def test_invalid_names_are_refused(archive: Archive, name) -> None:
    with pytest.raises(ValueError, match="needs a name matching"):
        archive.record(env_source("x"), reports=passing("static"), admitted=True, env_name=name)
    assert archive.candidates() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": ""}, "source is empty"),
        ({"source": b"bytes"}, "source must be a string"),
        ({"reports": "static"}, "reports must be a list"),
        ({"reports": [{"passed": True}]}, "non-empty string 'name'"),
        ({"reports": [{"name": "static", "passed": "yes"}]}, "'passed' True or False"),
        ({"reports": failing_at("review", "dull")}, "cannot have a failed stage"),
        ({"info": {"colour": "red"}}, "unknown keys"),
        ({"info": {"version": "1"}}, "must be an integer"),
        ({"lineage": ["new"]}, "lineage must be a dict"),
        ({"reports": [{"name": "static", "passed": True, "blob": object()}]}, "JSON-serialisable"),
        ({"run_id": "nope"}, "no run 'nope'"),
        ({"admitted": 1}, "admitted must be True or False"),
    ],
)
def test_bad_input_is_one_clear_value_error(archive: Archive, kwargs: dict, message: str) -> None:
    call = {"source": env_source("ok"), "reports": passing("static"), "admitted": True, "env_name": "ok", **kwargs}
    source = call.pop("source")
    with pytest.raises(ValueError, match=message):
        archive.record(source, **call)
    assert archive.candidates() == [] and archive.check()["orphans"] == []


# ----- funnel and runs ----------------------------------------------------------------------------
def test_funnel_counts_and_top_reasons(archive: Archive) -> None:
    for i in range(3):
        admit(archive, f"env_{i}")
    for i in range(4):
        archive.record(
            f"a = {i}\n",
            reports=failing_at("static", "no Environment subclass", before=()),
            admitted=False,
            env_name=None,
        )
    archive.record("b = 1\n", reports=failing_at("static", "imports os", before=()), admitted=False, env_name=None)
    for i in range(2):
        archive.record(f"c = {i}\n", reports=failing_at("execution", "timeout"), admitted=False, env_name=None)
    for i in range(12):  # more distinct reasons than the top 10
        reports = failing_at("calibration", f"flat curve #{i % 11}", before=("static", "execution", "novelty"))
        reports[2]["skipped"] = True
        archive.record(f"d = {i}\n", reports=reports, admitted=False, env_name=None)

    funnel = archive.funnel()
    assert funnel["candidates"] == 3 + 4 + 1 + 2 + 12
    assert funnel["admitted"] == 3
    assert list(funnel["passed"]) == ["static", "execution", "novelty", "review", "calibration"]
    assert funnel["passed"] == {
        "static": 3 + 2 + 12,
        "execution": 3 + 12,
        "novelty": 3 + 12,
        "review": 3,
        "calibration": 3,
    }
    assert funnel["skipped"] == {"novelty": 12}
    assert funnel["failed"] == {"static": 5, "execution": 2, "calibration": 12}
    assert funnel["reasons"]["static"] == [["no Environment subclass", 4], ["imports os", 1]]
    assert funnel["reasons"]["execution"] == [["timeout", 2]]
    assert funnel["reasons"]["calibration"][0] == ["flat curve #0", 2]
    assert len(funnel["reasons"]["calibration"]) == 10
    # Every candidate either was admitted or failed somewhere.
    assert funnel["admitted"] + sum(funnel["failed"].values()) == funnel["candidates"]


def test_runs_and_per_run_funnel(archive: Archive) -> None:
    first = archive.start_run({"generator": "model-a", "budget": 10})
    second = archive.start_run({"generator": "model-b"})
    assert len(first) == 32 and first != second
    admit(archive, "from_first", run_id=first)
    archive.record(
        "z = 0\n", reports=failing_at("static", "syntax error", before=()), admitted=False, env_name=None, run_id=first
    )
    admit(archive, "from_second", run_id=second)
    archive.finish_run(first, {"admitted": 1, "rejected": 1})

    assert [r.env_name for r in archive.candidates(run_id=first)] == [None, "from_first"]
    assert [r.env_name for r in archive.candidates(run_id=second, admitted=True)] == ["from_second"]
    assert archive.funnel(first)["candidates"] == 2 and archive.funnel(first)["admitted"] == 1
    assert archive.funnel(second)["failed"] == {}
    assert archive.funnel()["candidates"] == 3

    run = archive.run(first)
    assert run["config"] == {"generator": "model-a", "budget": 10}
    assert run["summary"] == {"admitted": 1, "rejected": 1} and run["finished_at"] >= run["started_at"]
    assert (run["candidates"], run["admitted"]) == (2, 1)
    assert archive.run(second)["finished_at"] is None
    assert {r["id"] for r in archive.runs()} == {first, second}
    with pytest.raises(ValueError, match="no run 'missing'"):
        archive.finish_run("missing", {})


# ----- export -------------------------------------------------------------------------------------
def test_export_writes_sources_and_manifest(archive: Archive, tmp_path: Path) -> None:
    lineage = {"mode": "new", "parents": [], "generator": "g"}
    admit(archive, "one", lineage=lineage, info={"calibration": {"slope": 0.7}, "novelty": {"similarity": 0.2}})
    admit(archive, "two")
    archive.record("x = 1\n", reports=failing_at("static", "nope", before=()), admitted=False, env_name=None)
    dest = tmp_path / "export"
    paths = archive.export(dest)
    assert [p.name for p in paths] == ["one.py", "two.py", "manifest.json"]
    assert (dest / "one.py").read_text() == env_source("one")
    manifest = json.loads((dest / "manifest.json").read_text())
    entries = {entry["name"]: entry for entry in manifest["environments"]}
    assert set(entries) == {"one", "two"}
    assert entries["one"]["hash"] == source_hash(env_source("one"))
    assert entries["one"]["lineage"] == lineage
    assert entries["one"]["calibration"] == {"slope": 0.7} and entries["one"]["novelty"] == {"similarity": 0.2}
    assert [r["name"] for r in entries["one"]["reports"]] == list(STAGES)

    assert archive.export(dest) == paths  # same content again: fine
    (dest / "two.py").write_text("edited by hand\n")
    with pytest.raises(ValueError, match="refusing to export.*'two.py'"):
        archive.export(dest)
    assert (dest / "two.py").read_text() == "edited by hand\n"


# ----- reopening, schema, bad directories -----------------------------------------------------------
def test_reopening_sees_everything(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with Archive(root) as archive:
        run = archive.start_run({})
        admit(archive, "kept", run_id=run)
        archive.record("x = 1\n", reports=failing_at("static", "nope", before=()), admitted=False, env_name=None)
        funnel = archive.funnel()
    with Archive(str(root)) as archive:
        assert archive.names() == ["kept"]
        assert archive.source("kept") == env_source("kept")
        assert len(archive.candidates()) == 2 and archive.funnel() == funnel
        assert archive.run(run) is not None
        assert archive.check()["ok"]
    with pytest.raises(ArchiveError, match="is closed"):
        archive.names()


def test_default_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENVFOUNDRY_ARCHIVE", str(tmp_path / "explicit"))
    assert default_archive_dir() == tmp_path / "explicit"
    monkeypatch.delenv("ENVFOUNDRY_ARCHIVE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_archive_dir() == tmp_path / "xdg" / "envfoundry" / "archive"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_archive_dir() == tmp_path / "home" / ".local" / "share" / "envfoundry" / "archive"
    with Archive() as archive:
        assert archive.root == default_archive_dir() and archive.db_path.is_file()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    Archive(root).close()
    with sqlite3.connect(root / "archive.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ArchiveError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        Archive(root)


def test_non_archives_are_refused_naming_the_path(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("hi")
    with pytest.raises(ArchiveError, match=f"'{busy}' is not an envfoundry archive"):
        Archive(busy)
    assert not (busy / "archive.sqlite3").exists()

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ArchiveError, match="is not a directory"):
        Archive(a_file)

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "archive.sqlite3").write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(ArchiveError, match=f"'{corrupt / 'archive.sqlite3'}' is not a readable"):
        Archive(corrupt)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "archive.sqlite3") as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(ArchiveError, match="an SQLite database but not an envfoundry archive"):
        Archive(foreign)
    assert APPLICATION_ID  # the marker that tells our databases apart


# ----- integrity ------------------------------------------------------------------------------------
def test_check_detects_tampering_and_removes_orphans(archive: Archive) -> None:
    record = admit(archive, "solid")
    assert archive.check() == {
        "ok": True,
        "path": str(archive.root),
        "integrity": ["ok"],
        "foreign_key_violations": 0,
        "sources": 1,
        "missing": [],
        "corrupt": [],
        "orphans": [],
        "removed": [],
    }
    path = archive.path_for("solid")
    path.write_text(path.read_text() + "\nimport os  # sneaked in\n")
    report = archive.check()
    assert not report["ok"] and report["corrupt"] == [record.source_hash]
    with pytest.raises(ArchiveError, match="does not match its hash"):
        archive.path_for("solid")
    with pytest.raises(ArchiveError, match="does not match its hash"):
        archive.source("solid")

    orphan = archive.root / "sources" / f"{'0' * 64}.py"
    orphan.write_text("left by a crash\n")
    (archive.root / "sources" / ".tmp-abc.part").write_text("half")
    assert archive.check()["orphans"] == [".tmp-abc.part", orphan.name]
    repaired = archive.check(repair=True)
    assert repaired["removed"] == [".tmp-abc.part", orphan.name] and not orphan.exists()
    assert archive.check()["orphans"] == []

    path.unlink()
    assert archive.check()["missing"] == [record.source_hash]


# ----- concurrency and crashes ----------------------------------------------------------------------
WRITER = """
import sys
from envfoundry.archive import Archive
root, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
passing = [{"name": s, "passed": True, "skipped": False, "reason": "ok"} for s in ("static", "execution")]
with Archive(root) as archive:
    for i in range(count):
        name = f"{prefix}_{i}"
        source = f"# {name}\\nclass Env:\\n    name = {name!r}\\n" + "# padding\\n" * (i % 50)
        if i % 3 == 2:
            archive.record(source, reports=[passing[0], {"name": "execution", "passed": False, "reason": "boom"}],
                           admitted=False, env_name=name)
        else:
            archive.record(source, reports=passing, admitted=True, env_name=name, lineage={"mode": "new"})
            print(name, flush=True)
"""


def spawn_writer(root: Path, prefix: str, count: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), prefix, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigkill_mid_run_loses_no_admitted_environment(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    Archive(root).close()
    child = spawn_writer(root, "crash", 100_000)
    confirmed: list[str] = []
    assert child.stdout is not None
    deadline = time.monotonic() + 20
    while len(confirmed) < 40 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        confirmed.append(line.strip())
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, errors
    confirmed += rest.split()  # names printed before the kill landed also returned from record()
    assert len(confirmed) >= 40, errors

    with Archive(root) as archive:
        report = archive.check()
        assert report["ok"], report
        assert len(report["orphans"]) <= 1, report
        names = set(archive.names())
        for name in confirmed:
            assert name in names
            assert archive.source(name).startswith(f"# {name}\n")
        assert archive.check(repair=True)["ok"] and archive.check()["orphans"] == []
        # The archive stays writable after the crash.
        admit(archive, "after_crash")


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    root = tmp_path / "archive"  # both children create it: schema creation must tolerate the race
    children = [spawn_writer(root, prefix, 60) for prefix in ("left", "right")]
    for child in children:
        _, errors = child.communicate(timeout=60)
        assert child.returncode == 0, errors
    with Archive(root) as archive:
        assert len(archive.candidates()) == 120
        assert len(archive.candidates(admitted=True)) == 80
        assert len(archive.names()) == 80
        assert archive.funnel()["failed"] == {"execution": 40}
        assert archive.check()["ok"]


def test_threads_share_one_archive(archive: Archive) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(15):
                admit(archive, f"t{worker}_{i}")
                archive.candidates(limit=5)
                archive.funnel()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(archive.names()) == 60 and archive.check()["ok"]
