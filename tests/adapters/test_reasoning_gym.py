"""The reasoning-gym adapter: every default dataset meets the contract, levels map onto the
curriculum, instances are reasoning-gym's own items, deterministic and scorable after JSON."""

from __future__ import annotations

import json
import statistics
import sys

import pytest

pytest.importorskip("reasoning_gym")

from reasoning_gym.factory import CURRICULA, DATASETS, create_curriculum, create_dataset  # noqa: E402

from envfoundry.adapters import reasoning_gym as rg  # noqa: E402
from envfoundry.checks.battery import check_contract, check_environment, sample_in_subprocess  # noqa: E402
from envfoundry.core import Instance, shows_answer, wrap_answer  # noqa: E402
from envfoundry.core.environment import _NAME_RE  # noqa: E402
from envfoundry.errors import EnvfoundryError  # noqa: E402

DEFAULTS = rg.DEFAULT_DATASETS


def first_and_last(env):
    return env.parameter_space.at_level(0.0), env.parameter_space.at_level(1.0)


# ----- discovery and names ----------------------------------------------------------------------
def test_available_lists_the_datasets_with_a_curriculum():
    names = rg.available()
    assert names == sorted(set(DATASETS) & set(CURRICULA))
    assert "chain_sum" in names and "acre" in DATASETS and "acre" not in names


def test_default_datasets_are_adaptable_distinct_and_diverse():
    assert 20 <= len(DEFAULTS) <= 90
    assert len(set(DEFAULTS)) == len(DEFAULTS)
    assert set(DEFAULTS) <= set(rg.available())
    categories = {DATASETS[name][0].__module__.split(".")[1] for name in DEFAULTS}
    assert len(categories) >= 6, categories


def test_names_are_sanitised_into_contract_identifiers():
    assert rg.env_name("chain_sum") == "rg:chain_sum"
    assert rg.env_name("Foo-Bar.baz 2") == "rg:foo_bar_baz_2"
    assert rg.env_name("x" * 200) == "rg:" + "x" * 64
    names = [rg.env_name(name) for name in rg.available()]
    assert all(_NAME_RE.fullmatch(name) for name in names)
    assert len(set(names)) == len(names)


def test_unknown_datasets_are_one_sentence_value_errors():
    with pytest.raises(ValueError, match=r"unknown reasoning-gym dataset 'chain_summ'; did you mean 'chain_sum'"):
        rg.make_environment("chain_summ")
    with pytest.raises(ValueError, match="'acre' has no curriculum"):
        rg.make_environment("acre")
    with pytest.raises(ValueError, match="must be a string"):
        rg.make_environment(3)
    with pytest.raises(ValueError) as info:
        rg.make_environment("zzzzzzzz")
    assert "'zzzzzzzz'" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, EnvfoundryError)


def test_the_prefixed_name_gives_the_same_class():
    cls = rg.environment_class("chain_sum")
    assert rg.environment_class("rg:chain_sum") is cls
    assert cls.name == "rg:chain_sum" and cls.family == "reasoning_gym" and cls.asymmetry == "algorithmic"
    assert isinstance(cls.version, int)
    assert "'chain_sum'" in rg.make_environment("chain_sum").description


def test_a_missing_reasoning_gym_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)
    with pytest.raises(ImportError, match="pip install reasoning-gym"):
        rg.available()
    with pytest.raises(ImportError, match="pip install reasoning-gym") as info:
        rg.make_environment("chain_sum")
    assert isinstance(info.value, EnvfoundryError)


# ----- every default dataset --------------------------------------------------------------------
@pytest.mark.parametrize("dataset", DEFAULTS)
def test_default_dataset_meets_the_contract_and_scores_like_reasoning_gym(dataset):
    env = rg.make_environment(dataset)
    assert check_contract(env).passed
    assert len(env.parameter_space) == len(create_curriculum(dataset).attributes)
    instances = [env.sample(0, level=0.0), env.sample(1, level=1.0)]
    for instance, other in zip(instances, instances[::-1], strict=True):
        assert "<answer>" in instance.prompt and instance.state["entry"]["question"].rstrip() in instance.prompt
        right = env.score(instance, wrap_answer(instance.reference))
        assert right.correct and right.reward == 1.0, right
        # Where many answers are right, another instance's may fit this one too (a colouring of a graph).
        wrongs = ["", "banana"] + ([other.reference] if env.answers == "unique" else [])
        verdicts = [env.score(instance, wrap_answer(w)) for w in wrongs if w.strip() != instance.reference.strip()]
        assert verdicts and not any(v.correct for v in verdicts)
        # Another process would see the instance only as JSON, and a fresh environment object.
        copy = Instance.from_json(instance.to_json())
        fresh = rg.environment_class(dataset)()
        for response in [wrap_answer(instance.reference), *(wrap_answer(w) for w in wrongs)]:
            assert fresh.score(copy, response) == env.score(instance, response)


# ----- determinism --------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["chain_sum", "group_anagrams", "tsumego"])
def test_same_seed_and_level_give_the_same_instance_whatever_was_sampled_before(dataset):
    env = rg.make_environment(dataset)
    first = [env.sample(seed, level=0.5).to_json() for seed in range(6)]
    env.sample(99, level=1.0)  # the cached dataset is re-seeded by other samples in between
    again = [env.sample(seed, level=0.5).to_json() for seed in reversed(range(6))][::-1]
    rg._CACHE.clear()
    rebuilt = [rg.environment_class(dataset)().sample(seed, level=0.5).to_json() for seed in range(6)]
    assert first == again == rebuilt
    assert len({json.loads(text)["prompt"] for text in first}) >= 5


@pytest.mark.parametrize("dataset", ["chain_sum", "spiral_matrix", "family_relationships"])
def test_the_instance_is_reasoning_gyms_own_item_for_the_derived_seed(dataset):
    env = rg.make_environment(dataset)
    seeds = set()
    for seed, level in [(0, 0.0), (1, 0.5), (2, 1.0)]:
        instance = env.sample(seed, level=level)
        state = instance.state
        fields = rg.config_fields(env.attributes, instance.params)
        theirs = create_dataset(dataset, seed=state["rg_seed"], size=1, **fields)[0]
        assert json.loads(json.dumps(theirs)) == state["entry"]
        assert instance.reference == theirs["answer"]
        seeds.add(state["rg_seed"])
    assert len(seeds) == 3


def test_instances_are_identical_in_a_fresh_process():
    requests = [(seed, level) for seed in (0, 7) for level in (0.0, 1.0)]
    for name in ("chain_sum", "word_sequence_reversal"):
        here = [rg.make_environment(name).sample(seed, level=level).to_json() for seed, level in requests]
        assert sample_in_subprocess(rg.env_name(name), requests) == here


# ----- levels -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", DEFAULTS)
def test_level_zero_and_one_are_the_first_and_last_curriculum_levels(dataset):
    env = rg.make_environment(dataset)
    low, high = first_and_last(env)
    # Level 1 is each attribute's last level, or the highest one measured to work (recorded ranges)
    # or chosen by our own mapping (LEVEL_RANGES).
    measured = dict(rg.vetting()["ranges"].get(dataset, {}))
    for param, (own_low, own_high) in rg.LEVEL_RANGES.get(dataset, {}).items():
        low_index, high_index = measured.get(param, [0, own_high])
        measured[param] = [max(low_index, own_low), min(high_index, own_high)]
    assert low == {a.param: measured.get(a.param, [0, a.top])[0] for a in env.attributes}
    assert high == {a.param: measured.get(a.param, [0, a.top])[1] for a in env.attributes}
    config_low, config_high = env.config(low), env.config(high)
    for attribute in env.attributes:
        if tuple(measured.get(attribute.param, (0, attribute.top))) != (0, attribute.top):
            continue
        levels = attribute.levels
        values_low = {getattr(config_low, field) for field in attribute.fields if not isinstance(levels[0], list)}
        values_high = {getattr(config_high, field) for field in attribute.fields if not isinstance(levels[0], list)}
        if values_low:
            assert levels[0] in values_low and values_low <= set(levels[:2])
            assert levels[-1] in values_high and values_high <= set(levels[-2:])
        else:  # list-valued scalar levels
            assert getattr(config_low, attribute.fields[0]) == levels[0]
            assert getattr(config_high, attribute.fields[0]) == levels[-1]
    grid = [env.parameter_space.at_level(level / 10) for level in range(11)]
    for before, after in zip(grid, grid[1:], strict=False):
        assert all(after[name] >= before[name] for name in before)


def test_level_mapping_matches_reasoning_gyms_upper_bound_curriculum_for_every_dataset():
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode

    context = DefaultCurriculumContext(mode=RangeAttributeMode.UPPER_BOUND)
    compared = 0
    for dataset in rg.available():
        if dataset in rg.SKIP_LEVELS:  # levels left out on purpose: its indices are not the curriculum's
            continue
        env = rg.make_environment(dataset)
        for level in (0.0, 0.5, 1.0):
            indices = env.parameter_space.at_level(level)
            curriculum = create_curriculum(dataset)
            for attribute in env.attributes:
                curriculum.set_attr_level(attribute.name, indices[attribute.param])
            try:
                theirs = curriculum.generate_configuration({"seed": 0, "size": 1}, context=context)
            except Exception:  # noqa: BLE001 - a curriculum whose own config is invalid there
                continue
            ours = rg.config_fields(env.attributes, indices)
            assert ours == {field: getattr(theirs, field) for field in ours}, (dataset, level)
            compared += 1
    assert compared >= 3 * (len(rg.available()) - len(rg.SKIP_LEVELS)) - 10


def test_chain_sum_levels_reach_the_instances():
    env = rg.make_environment("chain_sum")
    easy = [env.sample(seed, level=0.0).state["entry"]["metadata"] for seed in range(5)]
    hard = [env.sample(seed, level=1.0).state["entry"]["metadata"] for seed in range(5)]
    assert all(m["num_terms"] == 2 and m["num_digits"] == 1 for m in easy)
    assert all(m["num_terms"] == 12 and m["num_digits"] == 10 for m in hard)


@pytest.mark.parametrize(
    "dataset", ["chain_sum", "spiral_matrix", "number_sorting", "course_schedule", "syllogism", "quantum_lock", "aiw"]
)
def test_measured_complexity_rises_with_level(dataset):
    env = rg.make_environment(dataset)
    means = [statistics.fmean(env.sample(s, level=level).metadata["complexity"] for s in range(8)) for level in (0, 1)]
    assert means[1] > means[0]


# ----- scoring ------------------------------------------------------------------------------------
def test_partial_credit_is_the_reward_but_never_correct(monkeypatch):
    env = rg.make_environment("basic_arithmetic")
    instance = env.sample(0, level=0.0)
    partial = env.score_answer(instance, instance.reference + " x")
    assert 0.0 < partial.reward < 1.0 and not partial.correct
    scorer = env.rg_dataset(instance.params)
    monkeypatch.setattr(scorer, "score_answer", lambda answer, entry: 1.0 - 1e-6)
    almost = env.score_answer(instance, instance.reference)
    assert almost.reward == pytest.approx(1.0 - 1e-6) and not almost.correct


def test_a_tampered_state_scores_zero_instead_of_raising():
    env = rg.make_environment("chain_sum")
    data = env.sample(0, level=0.5).to_dict()
    data["state"]["levels"] = {"num_terms": 99, "num_digits": 0}
    verdict = env.score(data, wrap_answer(data["reference"]))
    assert verdict.reward == 0.0 and "verify raised ReasoningGymError" in verdict.reason


# ----- the battery --------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["chain_sum", "family_relationships", "course_schedule"])
def test_the_full_check_battery_passes(dataset):
    results = check_environment(rg.make_environment(dataset))
    assert all(r.passed for r in results), [r.to_dict() for r in results if not r.passed]
    assert {r.name for r in results} >= {"reference", "wrong_answers", "no_leak", "difficulty_grows", "sample_time"}


def test_a_generator_that_raises_is_asked_again_with_the_next_seed(monkeypatch):
    """reasoning-gym's maze raises "Could not find suitable path cell" for some seeds: sample
    retries with the next seed from the same rng, so it still gives the same instance every time,
    and a generator that always raises is one ReasoningGymError, not reasoning-gym's exception."""
    env = rg.make_environment("chain_sum")
    real, calls = type(env).rg_entry, []

    def flaky(self, rg_seed, indices):
        calls.append(rg_seed)
        if len(calls) % 3 != 0:  # two seeds in three raise
            raise RuntimeError("Could not find suitable path cell after 1000 attempts")
        return real(self, rg_seed, indices)

    monkeypatch.setattr(type(env), "rg_entry", flaky)
    first = env.sample(5, level=0.5)
    second = env.sample(5, level=0.5)
    assert first == second and calls[0] != calls[2] and calls[:3] == calls[3:6]
    assert first.state["rg_seed"] == calls[2] and env.score(first, wrap_answer(first.reference)).correct

    def broken(self, rg_seed, indices):
        raise RuntimeError("never")

    monkeypatch.setattr(type(env), "rg_entry", broken)
    with pytest.raises(rg.ReasoningGymError, match=f"raised on {rg.GENERATE_ATTEMPTS} seeds"):
        env.sample(6, level=0.5)


def test_an_item_whose_question_shows_its_answer_is_drawn_again(monkeypatch):
    """A matrix rotated by 360 degrees, a string no rule changes: the answer is in the question, so
    sample draws the next seed; only a dataset that shows it on every draw is an error."""
    env = rg.make_environment("rotate_matrix")
    real, shown = type(env).rg_entry, []

    def leaky(self, rg_seed, indices):
        entry = dict(real(self, rg_seed, indices))
        if len(shown) < 2:  # the first two items show their answer
            entry["question"] += "\n" + entry["answer"]
        shown.append(shows_answer(entry["question"], entry["answer"]))
        return entry

    monkeypatch.setattr(type(env), "rg_entry", leaky)
    instance = env.sample(3, level=0.0)
    entry = instance.state["entry"]
    assert shown[:3] == [True, True, False] and not shows_answer(entry["question"], entry["answer"])
    assert env.score(instance, wrap_answer(instance.reference)).correct

    def always(self, rg_seed, indices):
        entry = dict(real(self, rg_seed, indices))
        return {**entry, "question": entry["question"] + "\n" + entry["answer"]}

    monkeypatch.setattr(type(env), "rg_entry", always)
    with pytest.raises(rg.ReasoningGymError, match="whose question shows the answer"):
        env.sample(4, level=0.0)


def test_selection_tasks_are_left_out_with_their_reason():
    from envfoundry.checks.reasoning_gym import vet_one

    for dataset, reason in rg.ANSWER_IN_QUESTION.items():
        assert vet_one(dataset, seeds=range(2), across_processes=False) == f"no_leak: {reason}"


def test_datasets_that_iterate_over_sets_draw_the_same_items_under_any_hash_seed():
    """isomorphic_strings, ransom_note, word_ladder and polynomial_multiplication iterate over sets
    (of strings, of sympy monomials), whose order follows the interpreter's hash seed: repaired, a
    seed gives the same item in every process."""
    import os
    import subprocess

    code = (
        "import json\n"
        "from envfoundry.adapters import reasoning_gym as rg\n"
        f"names = {sorted(rg.REPAIRS)!r}\n"
        "print(json.dumps({n: [rg.make_environment(n).sample(s, level=l).to_json() for s in range(3) "
        "for l in (0.0, 1.0)] for n in names}))\n"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1] and set(outputs[0]) == set(rg.REPAIRS)


def test_list_json_gives_every_dataset_with_its_vetting_verdict(capsys):
    from envfoundry.cli.main import main

    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    datasets = {entry["name"]: entry for entry in listing if entry["name"].startswith("rg:")}
    assert set(datasets) == {rg.env_name(d) for d in rg.available()}
    recorded = rg.vetting()["verdicts"]
    assert set(recorded) == set(rg.available()), "the recorded vetting must cover every adaptable dataset"
    for entry in datasets.values():
        verdict = recorded[entry["dataset"]]
        assert entry["vetted"] is (verdict is None) and entry.get("reason") == verdict
        assert entry["vetted_with"] == rg.vetting()["reasoning_gym_version"]
    # The default set is drawn from the vetted datasets.
    assert {rg.env_name(d) for d in rg.DEFAULT_DATASETS} <= {n for n, e in datasets.items() if e["vetted"]}
    assert all(not entry["name"].startswith("rg:") for entry in listing[: len(listing) - len(datasets)])


@pytest.mark.parametrize("dataset", sorted(rg.REFERENCES))
def test_a_solution_from_the_metadata_is_the_reference_reasoning_gym_accepts(dataset):
    env = rg.make_environment(dataset)
    for seed in range(3):
        instance = env.sample(seed, level=0.0)
        assert instance.state["entry"]["answer"] is None and instance.reference
        assert env.score(instance, wrap_answer(instance.reference)).correct
        assert not env.score(instance, wrap_answer("banana")).correct


def test_our_verifiers_forgive_spelling_and_nothing_else():
    assert rg.exact_match("Hello  World", " Hello World. ").reward == 1.0
    assert rg.exact_match("Hello World", "hello world").reward == 0.0  # case can matter (word sorting)
    assert rg.caseless_match("NETHERMOST", "nethermost").reward == 1.0
    assert rg.caseless_match("NETHERMOST", "NETHERMOST NETHERMOST").reward == 0.0
    assert rg.exact_match("3", "3.0").reward == 1.0 and rg.exact_match("-0.5", "-.5").reward == 1.0
    assert rg.exact_match("3", "33").reward == 0.0 and rg.exact_match("abc", "abc abc").reward == 0.0
    assert rg.exact_match("12", "1 2").reward == 0.0 and rg.exact_match("7", "NaN").reward == 0.0
    assert rg.numeric_match("93.42°", "93.42").reward == 1.0 and rg.numeric_match("93.42°", "93.420 °").reward == 1.0
    assert rg.numeric_match("93.42°", "93.43").reward == 0.0 and rg.numeric_match("93.42°", "93.42 93.43").reward == 0.0
    assert rg.numeric_match("921344.27374224", "921344.27374274").reward == 0.0
    assert rg.numeric_match("12.5", "12.5 cm").reward == 0.0  # another unit than the reference's
    assert rg.numeric_match("(-4.833, 5.667)", "(-4.833,5.667)").reward == 1.0
    assert rg.numeric_match("(-4.833, 5.667)", "(5.667, -4.833)").reward == 0.0
    assert rg.numeric_match("(-4.833, 5.667)", "-4.833").reward == 0.0
    assert rg.numeric_match("1.335030063037931e-06", "1.335030063037931e-6").reward == 1.0
    assert rg.numeric_match("1.335030063037931e-06", "1.335030063037932e-06").reward == 0.0
    reference = "Avery is a knave, and Evelyn is a knight."
    assert rg.roles_match(reference, "Evelyn is a knight and Avery is a knave").reward == 1.0
    assert rg.roles_match(reference, "Avery is a knight, and Evelyn is a knave.").reward == 0.0
    assert rg.roles_match(reference, "Avery is a knave, Avery is a knight, and Evelyn is a knight").reward == 0.0
    assert rg.roles_match(reference, "Avery is a knave").reward == 0.0
    assert rg.roles_match("Sophia is an egoist, and Lily is an altruist.", "Lily is an altruist and Sophia is an egoist").reward == 1.0


def test_a_level_reasoning_gyms_config_refuses_is_left_out():
    """modulo_grid's curriculum lists max_target levels 1, 0, 3, ...; its config refuses 0."""
    env = rg.make_environment("modulo_grid")
    (attribute,) = [a for a in env.attributes if a.name == "max_target"]
    assert 0 not in attribute.levels and attribute.levels[:2] == (1, 3)
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        instance = env.sample(level=level, seed=1)
        assert env.score(instance, wrap_answer(instance.reference)).correct


def test_a_hanging_generator_is_cut_short_and_the_next_seed_used(monkeypatch):
    env = rg.make_environment("chain_sum")
    real, calls = type(env).rg_entry, []

    def hangs_once(self, rg_seed, indices):
        calls.append(rg_seed)
        if len(calls) == 1:
            import time

            time.sleep(60)
        return real(self, rg_seed, indices)

    monkeypatch.setattr(rg, "GENERATE_LIMIT_S", 0.2)
    monkeypatch.setattr(type(env), "rg_entry", hangs_once)
    instance = env.sample(3, level=0.5)
    assert len(calls) == 2 and instance.state["rg_seed"] == calls[1]
    assert env.score(instance, wrap_answer(instance.reference)).correct


def test_syllogism_statements_rank_from_all_to_some_not():
    ranks = [rg._quantifier_rank(s) for s in ("All cats are animals", "No cats are dogs", "Some cats are black",
                                               "Some cats are not black")]  # fmt: skip
    assert ranks == [0, 1, 2, 3]
