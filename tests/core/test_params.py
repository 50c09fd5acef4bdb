import json

import jsonschema
import pytest

from envfoundry import ChoiceParam, FloatParam, IntParam, ParamSpace

LEVELS = [i / 20 for i in range(21)]


def test_int_param_maps_levels_monotonically_onto_its_bounds():
    up, down = IntParam(4, 40), IntParam(4, 40, harder="down")
    assert up.at_level(0.0) == 4 and up.at_level(1.0) == 40
    assert down.at_level(0.0) == 40 and down.at_level(1.0) == 4
    ups = [up.at_level(level) for level in LEVELS]
    downs = [down.at_level(level) for level in LEVELS]
    assert ups == sorted(ups) and downs == sorted(downs, reverse=True)


def test_log_scale_spends_levels_evenly_across_orders_of_magnitude():
    param = IntParam(10, 10**6, scale="log")
    assert param.at_level(0.0) == 10 and param.at_level(1.0) == 10**6
    assert 9_000 < param.at_level(0.6) < 11_000  # 10^(1 + 0.6 * 5) = 10^4
    with pytest.raises(ValueError, match="low > 0"):
        IntParam(0, 10, scale="log")


def test_float_and_choice_params():
    ratio = FloatParam(0.1, 0.5)
    assert ratio.at_level(0.5) == pytest.approx(0.3)
    order = ChoiceParam(["sorted", "shuffled", "reversed"])
    assert [order.at_level(x) for x in (0.0, 0.33, 0.34, 0.99, 1.0)] == [
        "sorted",
        "sorted",
        "shuffled",
        "reversed",
        "reversed",
    ]


@pytest.mark.parametrize("level", [-0.1, 1.5, float("nan"), "0.5", True])
def test_bad_levels_are_refused(level):
    with pytest.raises(ValueError, match="level"):
        IntParam(1, 2).at_level(level)


def test_space_resolves_level_and_explicit_params():
    space = ParamSpace({"n": IntParam(1, 9), "mode": ChoiceParam(["a", "b"])}, owner="toy")
    assert space.resolve() == {"n": 5, "mode": "b"}  # default level 0.5
    assert space.resolve(0.0, {"mode": "b"}) == {"n": 1, "mode": "b"}
    with pytest.raises(ValueError, match="unknown parameter 'm' for toy"):
        space.resolve(params={"m": 1})
    with pytest.raises(ValueError, match=r"'n' must be in \[1, 9\], got 10"):
        space.resolve(params={"n": 10})
    with pytest.raises(ValueError, match="'n' must be an integer"):
        space.resolve(params={"n": 2.5})
    with pytest.raises(ValueError, match="must be one of"):
        space.resolve(params={"mode": "c"})


def test_command_line_assignments_are_parsed_and_validated():
    space = ParamSpace({"n": IntParam(1, 9), "p": FloatParam(0.0, 1.0), "mode": ChoiceParam([2, 3])})
    assert space.parse(["n=3", "p=0.25", "mode=3"]) == {"n": 3, "p": 0.25, "mode": 3}
    for bad, message in [("n", "name=value"), ("n=x", "integer"), ("q=1", "unknown"), ("p=2", r"\[0.0, 1.0\]")]:
        with pytest.raises(ValueError, match=message):
            space.parse([bad])


def test_json_schema_validates_what_the_space_produces_and_rejects_the_rest():
    space = ParamSpace(
        {"n": IntParam(4, 40), "ratio": FloatParam(0.0, 0.9, harder="down"), "order": ChoiceParam(["s", "x"])}
    )
    schema = space.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for level in LEVELS:
        jsonschema.validate(space.at_level(level), schema)
    assert schema["properties"]["ratio"]["x-harder"] == "down"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"n": 41, "ratio": 0.1, "order": "s"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"n": 5, "ratio": 0.1, "order": "s", "extra": 1}, schema)


def test_space_refuses_things_that_are_not_params():
    with pytest.raises(ValueError, match="must be an IntParam"):
        ParamSpace({"n": (1, 2)})
    with pytest.raises(ValueError, match="not a valid identifier"):
        ParamSpace({"bad name": IntParam(1, 2)})


def test_integer_steps_are_even_across_equal_level_steps():
    assert [IntParam(0, 4).at_level(x) for x in (0.0, 0.125, 0.375, 0.625, 0.875)] == [0, 1, 2, 3, 4]


def test_spaces_travel_as_plain_json_and_come_back_equal():
    space = ParamSpace(
        {
            "n": IntParam(4, 40, scale="log", description="items"),
            "ratio": FloatParam(0.0, 0.9, harder="down"),
            "order": ChoiceParam(["sorted", "shuffled"]),
            "flag": ChoiceParam([False, True, 3, 2.5]),
        }
    )
    spec = json.loads(json.dumps(space.to_spec()))
    back = ParamSpace.from_spec(spec)
    assert dict(back) == dict(space) and list(back) == list(space)
    assert back.at_level(0.7) == space.at_level(0.7)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"n": {"kind": "complex"}}, "kind int, float or choice"),
        ({"n": {"kind": "int", "low": 1, "high": 2, "evil": 1}}, r"unknown spec field\(s\) \['evil'\]"),
        ({"n": {"kind": "int", "low": 1.5, "high": 2}}, "finite integers"),
        ({"n": {"kind": "float", "low": 0, "high": float("inf")}}, "finite numbers"),
        ({"n": {"kind": "int", "low": 3, "high": 2}}, r"low \(3\) must not exceed high \(2\)"),
        ({"n": {"kind": "int", "low": 1, "high": 2, "harder": "sideways"}}, "harder must be one of"),
        ({"n": {"kind": "choice", "choices": [[1]]}}, "strings, numbers or booleans"),
        ({"n": {"kind": "choice", "choices": []}}, "at least one choice"),
        ({"n": {"kind": "int", "low": 1, "high": 2, "description": 5}}, "description must be a string"),
    ],
)
def test_malformed_specs_are_rejected_with_a_reason(spec, message):
    with pytest.raises(ValueError, match=message):
        ParamSpace.from_spec(spec)
