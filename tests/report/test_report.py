"""``envfoundry report``: a report of each run kind (train, synthesis/convert archive, evaluation,
evolve) shows what that run's own files say, says so where it has nothing for a section, escapes
what models wrote, and inlines plotly.js once; bad paths are one clear sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_pages import figure, section, tables
from report_runs import EVAL_ENVS, HOSTILE_REPLY, evaluation

from envfoundry.archive import Archive
from envfoundry.errors import InvalidInputError
from envfoundry.report import SECTION_IDS, default_out, detect_kind, load_run, write_report

plotly = pytest.importorskip("plotly", reason="the report needs plotly (pip install -e '.[report]')")


def build(path: Path, tmp_path: Path) -> str:
    out = write_report(path, tmp_path / "report.html")
    return out.read_text()


def percent(value: float) -> str:
    return f"{value:.0%}"


def assert_page_basics(page: str) -> None:
    from plotly.offline import get_plotlyjs

    for section_id in SECTION_IDS:
        assert f'<section id="{section_id}">' in page
    assert page.count(get_plotlyjs()[:300]) == 1, "plotly.js must be inlined exactly once"
    assert "<script src=" not in page and 'src="http' not in page  # nothing to fetch: it opens offline


def empty(page: str, section_id: str) -> bool:
    body = section(page, section_id)
    return body.count('<p class="empty">') == 1 and "plotly-graph-div" not in body


def test_each_kind_is_told_apart_by_its_files(train_run, archive_run, eval_file, evolve_run, tmp_path):
    assert detect_kind(train_run) == "train"
    assert detect_kind(archive_run) == "archive"
    assert detect_kind(eval_file) == "eval"
    assert detect_kind(eval_file.parent) == "eval"  # a directory of evaluation files
    assert detect_kind(evolve_run) == "evolve"
    assert default_out(train_run) == train_run / "report.html"
    assert default_out(eval_file) == eval_file.with_name("eval.report.html")


def test_a_path_that_is_no_run_is_one_clear_sentence(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "other.json").write_text('{"kind": "something else"}')
    with pytest.raises(InvalidInputError, match="is not a run directory: it holds none of evolve.json"):
        load_run(tmp_path)
    with pytest.raises(InvalidInputError, match="is not an evaluation file"):
        load_run(tmp_path / "other.json")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_run(tmp_path / "missing")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="is not valid JSON"):
        load_run(tmp_path / "broken.json")


def test_a_train_report_draws_the_runs_curves_curriculum_and_tables(train_run, tmp_path):
    summary = json.loads((train_run / "eval.json").read_text())
    steps = [json.loads(line) for line in (train_run / "curriculum.jsonl").read_text().splitlines()]
    page = build(train_run, tmp_path)
    assert_page_basics(page)
    for section_id in ("stages", "funnel", "lineage"):
        assert empty(page, section_id), section_id
    assert "No synthesis funnel in a train run" in section(page, "funnel")

    # Pass rate over level: a line per environment and evaluation, at the rates eval.json holds.
    moments = {"before": "base model", "warmup": "after the warm-up", "after": "after GRPO"}
    expected = {f"{env} · {label}": curve for key, label in moments.items()
                for env, curve in summary["eval"][key].items()}  # fmt: skip
    assert summary["eval"]["warmup"], "the fixture warms up, so three evaluations are drawn"
    drawn = {trace["name"]: trace for trace in figure(page, "curves-held-out")}
    assert set(drawn) == set(expected)
    for name, curve in expected.items():
        assert drawn[name]["y"] == [curve[level] for level in sorted(curve, key=float)]

    # Curriculum: each environment's level at the steps it trained.
    levels = {trace["name"]: trace for trace in figure(page, "curriculum-levels")}
    for env in {env for step in steps for env in step["envs"]}:
        trained = [step for step in steps if env in step["envs"]]
        assert levels[env]["x"] == [step["global_step"] for step in trained]
        assert levels[env]["y"] == [step["envs"][env]["level"] for step in trained]
    swaps = sum(len(step["swaps"]) for step in steps)
    assert (f"No active-set swaps in {len(steps)} steps." in page) == (swaps == 0)

    # Dead-group share per step, as eval.json summed it up too.
    dynamics = {trace["name"]: trace for trace in figure(page, "dynamics-steps")}
    assert dynamics["dead-group share"]["y"] == summary["dead_group_share_per_step"]
    log = [json.loads(line) for line in (train_run / "train_log.jsonl").read_text().splitlines()]
    assert dynamics["loss (TRL)"]["y"] == [entry["loss"] for entry in log if "loss" in entry]

    # Before and after: a row per environment and level, a column per evaluation, and the change.
    [rows] = tables(section(page, "evaluation"))
    assert rows[0][2:] == ["base model", "after the warm-up", "after GRPO", "change (after GRPO − base model)"]
    for env, curve in summary["eval"]["after"].items():
        for level, rate in curve.items():
            [row] = [row for row in rows if row[:2] == [env, level]]
            before = summary["eval"]["before"][env][level]
            answered = summary["eval"]["format"]["after"][env][level]
            assert row[4] == f"{percent(rate)} ({percent(answered)})"
            assert row[5] == f"{(rate - before) * 100:+.0f} pts"


def test_an_archive_report_draws_each_runs_funnel_the_lineage_and_calibration(archive_run, tmp_path):
    with Archive(archive_run) as archive:
        runs = archive.runs()
        funnels = [archive.funnel(run["id"]) for run in runs]
        candidates = archive.candidates()
        calibrated = {env.name: env.calibration["curve"] for env in archive.environments()
                      if (env.calibration or {}).get("curve")}  # fmt: skip
    page = build(archive_run, tmp_path)
    assert_page_basics(page)
    for section_id in ("stages", "curriculum", "dynamics", "evaluation"):
        assert empty(page, section_id), section_id
    assert "No curriculum in a synthesis archive" in page

    # A funnel per run (synthesize, then convert): proposed, each stage's passes, admitted.
    assert {run["config"].get("command", "synthesize") for run in runs} == {"synthesize", "convert"} or len(runs) == 2
    for index, counts in enumerate(funnels):
        [trace] = figure(page, f"funnel-{index}")
        assert trace["x"] == [counts["candidates"], *counts["passed"].values(), counts["admitted"]]
    funnel_section = section(page, "funnel")
    rejected = [record for record in candidates if not record.admitted]
    assert rejected and all(record.reason in "".join(cell for t in tables(funnel_section) for row in t for cell in row)
                            for record in rejected)  # fmt: skip

    # The lineage: every candidate a node, seeds and problems as roots, an edge per parent, a colour
    # per mode; what came from seeds or problems is generation 1, mutations and repairs later ones.
    traces = {trace["name"]: trace for trace in figure(page, "lineage-tree")}
    assert len(traces["admitted"]["x"]) == sum(record.admitted for record in candidates)
    assert len(traces["rejected"]["x"]) == len(rejected)
    names = {record.env_name for record in candidates}
    # "candidate": what synthesize names the parent of a repair when the rejected candidate had no name
    roots = {parent for record in candidates for parent in record.lineage["parents"]
             if parent not in names and parent != "candidate"}  # fmt: skip
    assert sorted(traces["seed or source"]["text"]) == sorted(roots)
    modes = {record.lineage["mode"] for record in candidates if record.lineage["parents"]}
    assert {"new", "repair", "mutate", "convert"} <= modes  # the fixture exercises every way in
    edges = {name: trace for name, trace in traces.items() if name.endswith("(from parent)")}
    assert set(edges) == {f"{mode} (from parent)" for mode in modes}
    assert sum(len(trace["x"]) // 3 for trace in edges.values()) == sum(len(r.lineage["parents"]) for r in candidates)
    by_id = {record.id: record for record in candidates}
    for status in ("admitted", "rejected"):
        for generation, hover in zip(traces[status]["x"], traces[status]["hovertext"], strict=True):
            record = by_id[int(re.search(r"\(#(\d+), ", hover)[1])]
            assert (generation >= 2) == (record.lineage["mode"] in ("mutate", "repair")), hover
    [rows] = tables(section(page, "lineage"))
    assert len(rows) == 1 + len(candidates)

    # Calibration: the solver's pass rate by level for each admitted environment that has one.
    assert calibrated, "the fixture's solver gives base_conversion a calibration curve"
    curves = {trace["name"]: trace for trace in figure(page, "curves-calibration")}
    for name, curve in calibrated.items():
        assert curves[name]["y"] == [curve[level] for level in sorted(curve, key=float)]


def test_an_evaluation_report_tabulates_every_cell_and_escapes_the_replies(eval_file, tmp_path):
    data = json.loads(eval_file.read_text())
    page = build(eval_file, tmp_path)
    assert_page_basics(page)
    for section_id in ("stages", "funnel", "curriculum", "dynamics", "lineage"):
        assert empty(page, section_id), section_id
    rows = tables(section(page, "evaluation"))[0]
    assert rows[1][:3] == ["all", "", f"{data['pass_rate']:.1%}"]
    for env, cells in data["results"].items():
        for level, cell in cells.items():
            [row] = [row for row in rows if row[:2] == [env, level]]
            assert row[2:] == [percent(cell["pass_rate"]), percent(cell["format_rate"]), f"{cell['mean_reward']:.3f}",
                               str(cell["n"]), str(cell["errors"])]  # fmt: skip
    # A model's reply is shown as text, never as markup.
    assert HOSTILE_REPLY not in page and "<script>window.__pwned" not in page
    examples = tables(section(page, "evaluation"))[1]
    shown = [row for row in examples[1:] if row[4] == HOSTILE_REPLY]
    assert len(shown) == sum(len(cell["examples"]) for cells in data["results"].values() for cell in cells.values())


def test_the_report_reads_what_envfoundry_eval_writes(scripted_chat, tmp_path):
    run_eval = pytest.importorskip("envfoundry.evaluate.run").run_eval
    model = scripted_chat(lambda messages: HOSTILE_REPLY)
    data = run_eval(model, suite=",".join(EVAL_ENVS), levels=[0.0, 1.0], seeds=2, out=tmp_path / "eval.json",
                    progress=False)  # fmt: skip
    page = build(tmp_path / "eval.json", tmp_path)
    drawn = {trace["name"]: trace["y"] for trace in figure(page, "curves-held-out")}
    assert drawn == {f"{env} · {data['model']}": [cells[level]["pass_rate"] for level in sorted(cells, key=float)]
                     for env, cells in data["results"].items()}  # fmt: skip
    assert HOSTILE_REPLY not in page


def test_a_directory_of_evaluations_is_compared_first_to_last(tmp_path):
    runs = tmp_path / "evals"
    runs.mkdir()
    first, last = evaluation(correct_every=4, model="base"), evaluation(correct_every=1, model="trained")
    (runs / "a-base.json").write_text(json.dumps(first))
    (runs / "b-trained.json").write_text(json.dumps(last))
    page = build(runs, tmp_path)
    [rows] = tables(section(page, "evaluation"))[:1]
    assert rows[0][2:] == ["a-base: base", "b-trained: trained", "change (b-trained: trained − a-base: base)"]
    assert rows[1][-1] == f"{(last['pass_rate'] - first['pass_rate']) * 100:+.0f} pts"
    for env, cells in last["results"].items():
        for level, cell in cells.items():
            [row] = [row for row in rows if row[:2] == [env, level]]
            assert row[-1] == f"{(cell['pass_rate'] - first['results'][env][level]['pass_rate']) * 100:+.0f} pts"


def test_an_evolve_report_follows_the_stages(evolve_run, tmp_path):
    summary = json.loads((evolve_run / "evolve.json").read_text())
    evals = [json.loads((evolve_run / path).read_text()) for path in summary["eval"]]
    page = build(evolve_run, tmp_path)
    assert_page_basics(page)

    # Stages: held-out pass rate after each stage (stage 0 first), and a row per stage.
    progress = {trace["name"]: trace for trace in figure(page, "stages-progress")}
    assert progress["held-out pass rate"]["y"] == [data["pass_rate"] for data in evals]
    assert progress["environments admitted"]["y"] == [stage["generator"]["admitted"] for stage in summary["stages"]]
    [rows] = tables(section(page, "stages"))
    assert [row[:3] for row in rows[1:]] == [[str(stage["stage"]), str(stage["generator"]["proposals"]),
                                              str(stage["generator"]["admitted"])] for stage in summary["stages"]]  # fmt: skip

    # A funnel per stage, from the stage's own synthesis record.
    for index, stage in enumerate(summary["stages"]):
        assert f"<h3>stage {stage['stage']}</h3>" in section(page, "funnel")
        [trace] = figure(page, f"funnel-{index}")
        assert trace["x"][0] == stage["synthesis"]["funnel"]["candidates"]

    # The stages' curricula one after another, with where each stage began.
    per_stage = [[json.loads(line) for line in (evolve_run / stage["train"] / "curriculum.jsonl").read_text().splitlines()]
                 for stage in summary["stages"]]  # fmt: skip
    steps = sorted({x for trace in figure(page, "curriculum-levels") for x in trace["x"]})
    assert len(steps) == sum(len(lines) for lines in per_stage)
    assert steps == list(range(1, len(steps) + 1))
    for stage in summary["stages"]:
        assert f"stage {stage['stage']}" in section(page, "curriculum")
    dead = figure(page, "dynamics-steps")[0]
    assert dead["y"] == [line["dead_share"] for lines in per_stage for line in lines]

    # Before (stage 0) and after (the last stage).
    [rows] = tables(section(page, "evaluation"))[:1]
    assert rows[0][2:4] == ["stage 0 (before training)", f"stage {len(evals) - 1}"]
    assert rows[1][-1] == f"{(evals[-1]['pass_rate'] - evals[0]['pass_rate']) * 100:+.0f} pts"
    assert not empty(page, "lineage") and not empty(page, "curves")


def test_the_command_writes_the_report_and_prints_where(eval_file, tmp_path, capsys):
    from envfoundry.cli.main import main

    assert main(["report", str(eval_file), "--out", str(tmp_path / "out" / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "r.html")
    assert (tmp_path / "out" / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("envfoundry: error: ") and "is not a run directory" in error and "\n" not in error


def test_a_killed_train_run_is_reported_with_what_it_left(train_run, tmp_path):
    run = tmp_path / "killed"
    run.mkdir()
    lines = (train_run / "curriculum.jsonl").read_text().splitlines()
    (run / "curriculum.jsonl").write_text("\n".join(lines) + '\n{"step": 9, "envs": {"edit_dis')  # cut mid-line
    page = build(run, tmp_path)
    summary = section(page, "summary")
    assert "no eval.json" in summary and "1 line(s) were not JSON objects" in summary
    assert empty(page, "evaluation") and "No evaluation in a train run" in page
    assert len(figure(page, "dynamics-steps")[0]["x"]) == len(lines)
