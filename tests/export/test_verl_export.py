"""``envfoundry export verl``: the Parquet verl reads (checked with pyarrow, column by column), and
the reward module verl imports by path, called the way verl calls it in a fresh process, for a
seed environment, a reasoning-gym dataset and a sandboxed environment file; then the exported rows
scored with ``score-batch``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envfoundry.cli.main import main
from envfoundry.core import Instance
from envfoundry.errors import InvalidInputError
from envfoundry.export.scoring import Environments, reward_info
from envfoundry.export.verl import COLUMNS

pq = pytest.importorskip("pyarrow.parquet", reason="the verl export needs the verl extra (pip install -e '.[verl]')")

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
FILE_ENV = CORPUS / "admitted_modular_power.py"
N, VAL_N, LEVELS = 6, 3, (0.0, 0.5, 1.0)


def _has_reasoning_gym() -> bool:
    try:
        import reasoning_gym  # noqa: F401
    except ImportError:
        return False
    return True


ENVS = ["knapsack", str(FILE_ENV)] + (["rg:chain_sum"] if _has_reasoning_gym() else [])
NAMES = ["knapsack", "modular_power"] + (["rg:chain_sum"] if _has_reasoning_gym() else [])


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("verl") / "export"
    code = main(["export", "verl", "--envs", ",".join(ENVS), "--n", str(N), "--val-n", str(VAL_N), "--out", str(out),
                 "--system", "Think, then answer.", "--json"])  # fmt: skip
    assert code == 0
    return out, json.loads((out / "manifest.json").read_text())


def test_the_parquet_has_verls_columns_and_one_row_per_instance(export):
    out, manifest = export
    train, test = pq.read_table(out / "train.parquet"), pq.read_table(out / "test.parquet")
    assert tuple(train.schema.names) == tuple(test.schema.names) == COLUMNS
    prompt, reward_model, extra = (train.schema.field(c).type for c in ("prompt", "reward_model", "extra_info"))
    assert [f.name for f in prompt.value_type] == ["role", "content"]
    assert sorted(f.name for f in reward_model) == ["ground_truth", "style"]
    assert {"split", "index", "env", "seed", "level", "params"} <= {f.name for f in extra}
    assert (train.num_rows, test.num_rows) == (N * len(NAMES), VAL_N * len(NAMES))
    assert [e["name"] for e in manifest["envs"]] == NAMES
    for split, table, count, first_seed in (("train", train, N, 1_000_000), ("test", test, VAL_N, 0)):
        rows = table.to_pylist()
        assert [r["extra_info"]["index"] for r in rows] == list(range(len(rows)))
        for name in NAMES:
            mine = [r for r in rows if r["data_source"] == f"envfoundry/{name}"]
            assert len(mine) == count
            instances = [Instance.from_json(r["reward_model"]["ground_truth"]) for r in mine]
            assert [i.env for i in instances] == [name] * count
            assert [i.seed for i in instances] == list(range(first_seed, first_seed + count))
            assert [i.level for i in instances] == [LEVELS[k % 3] for k in range(count)]
            for row, instance in zip(mine, instances, strict=True):
                assert row["prompt"] == [{"role": "system", "content": "Think, then answer."},
                                         {"role": "user", "content": instance.prompt}]  # fmt: skip
                assert row["reward_model"]["style"] == "rule" and row["extra_info"]["split"] == split
                assert (row["extra_info"]["env"], row["extra_info"]["seed"]) == (name, instance.seed)
                assert json.loads(row["extra_info"]["params"]) == instance.params
                assert row["extra_info"]["instance"] == row["reward_model"]["ground_truth"] == instance.to_json()
                assert row["ability"]
    # The environment file travels with the export; the others are made by name.
    made_from = {e["name"]: e["made_from"] for e in manifest["envs"]}
    assert made_from["modular_power"] == "envs/modular_power.py" and made_from["knapsack"] == "knapsack"
    assert (out / "envs" / "modular_power.py").read_text() == FILE_ENV.read_text()


# verl's loader (verl.utils.import_utils.load_extern_object / trainer.ppo.reward.get_custom_reward_fn):
# the file imported by path under a module name of its own, in a worker process that never sampled.
VERL_CALLS = """
import importlib.util, json, sys
import pyarrow.parquet as pq
spec = importlib.util.spec_from_file_location("custom_module", sys.argv[1] + "/reward.py")
module = importlib.util.module_from_spec(spec)
sys.modules["custom_module"] = module
spec.loader.exec_module(module)
rows = pq.read_table(sys.argv[1] + "/test.parquet").to_pylist()
single = []
for row in rows:
    label = row["reward_model"]["ground_truth"]
    reference = json.loads(label)["reference"]
    single.append([row["data_source"]] + [
        module.compute_score(data_source=row["data_source"], solution_str=response, ground_truth=label,
                             extra_info=row["extra_info"])
        for response in (f"I think. <answer>{reference}</answer>", "<answer>-7</answer>", "no answer at all")])
batch = module.compute_score_batch(data_sources=[row["data_source"] for row in rows],
                                   solution_strs=["<answer>-7</answer>"] * len(rows),
                                   ground_truths=[row["reward_model"]["ground_truth"] for row in rows],
                                   extra_infos=[row["extra_info"] for row in rows])
print(json.dumps({"single": single, "batch": batch}))
"""


def test_verl_imports_reward_py_by_path_and_scores_every_environment(export):
    out, _ = export
    result = subprocess.run([sys.executable, "-c", VERL_CALLS, str(out)], capture_output=True, text=True,
                            timeout=300, cwd=str(out.parent))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert {source for source, *_ in found["single"]} == {f"envfoundry/{name}" for name in NAMES}
    for _, right, wrong, untagged in found["single"]:
        assert right == {"score": 1.0, "acc": 1.0, "format_ok": 1.0, "pred": right["pred"]} and right["pred"]
        assert wrong["acc"] == 0.0 and wrong["score"] < 1.0 and wrong["format_ok"] == 1.0 and wrong["pred"] == "-7"
        assert untagged == {"score": 0.0, "acc": 0.0, "format_ok": 0.0, "pred": ""}
    # The batch variant gives each response the score the single call gave it.
    assert found["batch"] == [wrong for _, _, wrong, _ in found["single"]]


def test_a_bad_response_scores_zero_and_a_bad_label_says_so():
    from envfoundry.export import verl_reward

    instance = Instance.from_json(_knapsack_label())
    for response in (None, 42, "", "<answer>" * 10_000, "<answer>" + "9" * 300_000 + "</answer>"):
        scores = verl_reward.compute_score("envfoundry/knapsack", response, instance.to_json(), {})
        assert scores["score"] == 0.0 and scores["acc"] == 0.0 and set(scores) == {"score", "acc", "format_ok", "pred"}
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        verl_reward.compute_score("envfoundry/knapsack", "<answer>1</answer>", "the answer is 3", {})
    with pytest.raises(InvalidInputError, match="unknown environment"):
        Environments().score(Instance.from_dict({**instance.to_dict(), "env": "no_such_env"}), "<answer>1</answer>")
    assert reward_info(Environments().score(instance, f"<answer>{instance.reference}</answer>"))["acc"] == 1.0


def _knapsack_label() -> str:
    import envfoundry

    return envfoundry.make("knapsack").sample(3, level=0.2).to_json()


def test_exported_rows_score_with_score_batch(export, tmp_path):
    out, _ = export
    rows = pq.read_table(out / "train.parquet").to_pylist()
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"instance": row["reward_model"]["ground_truth"], "response":
                                         f"<answer>{json.loads(row['reward_model']['ground_truth'])['reference']}</answer>"})
                             + "\n" for row in rows))  # fmt: skip
    verdicts = tmp_path / "verdicts.jsonl"
    assert main(["score-batch", str(pairs), "--source", str(out / "envs" / "modular_power.py"), "--workers", "1",
                 "--out", str(verdicts)]) == 0  # fmt: skip
    written = [json.loads(line) for line in verdicts.read_text().splitlines()]
    assert len(written) == len(rows) and all(w["correct"] and w["reward"] == 1.0 for w in written)
    assert [w["index"] for w in written] == list(range(len(rows)))


@pytest.mark.parametrize(("argv", "message"), [
    (["export", "verl", "--envs", "knapsack", "--n", "0", "--out", "{out}"], "n must be a whole number of at least 1"),
    (["export", "verl", "--envs", "no_such_env", "--out", "{out}"], "unknown environment 'no_such_env'"),
    (["export", "verl", "--envs", "knapsack", "--levels", "0,2", "--out", "{out}"], "levels must be numbers in [0, 1]"),
    (["score-batch", "{out}"], "cannot read"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_status_2(argv, message, tmp_path, capsys):
    code = main([arg.replace("{out}", str(tmp_path / "missing")) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
