"""A model engineer's proposal: the reply read as JSON, checked and clamped against the parameter
space, diffed; one repair with the validation error, then the previous configuration stands; the
ablations leave the right context out of the prompt. The engineer is a replay backend."""

from __future__ import annotations

import json

import pytest
from engineer_helpers import SPACE, START, context

from envfoundry.core.params import ChoiceParam, FloatParam, IntParam, ParamSpace
from envfoundry.engineer import ModelEngineer, ProposalError, make_engineer
from envfoundry.engineer.proposal import check_config, describe_diff, diff, parse_reply, prompt_text
from envfoundry.llm import ReplayChat


@pytest.mark.parametrize(
    "reply",
    [
        '{"config": {"size": 5}, "rationale": "a bit bigger"}',
        'Here it is:\n```json\n{"config": {"size": 5}, "rationale": "a bit bigger"}\n```\nDone.',
        '{"size": 5, "rationale": "a bit bigger"}',  # a bare object of parameters
        'I think {not json} then {"config": {"size": 5}, "rationale": "a bit bigger"}',
    ],
)
def test_a_proposal_is_read_wherever_the_reply_puts_it(reply):
    assert parse_reply(reply) == ({"size": 5}, "a bit bigger")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("raise the size", "holds no JSON object"),
        ('{"config": [5, 2]}', '"config" must be a JSON object'),
        ('{"config": {"size": NaN}}', "holds no JSON object"),  # NaN is not JSON
    ],
)
def test_a_reply_without_a_usable_object_is_an_error(reply, error):
    with pytest.raises(ProposalError, match=error):
        parse_reply(reply)


def test_values_are_checked_and_clamped_into_the_space_and_the_rest_kept():
    config, adjusted, kept = check_config({"size": 12, "agents": 2.6, "hole_ratio": 0.1}, SPACE, START)
    assert config == {**START, "size": 8, "agents": 3, "hole_ratio": 0.1}
    assert adjusted == ["size 12 -> 8 (its maximum)", "agents 2.6 -> 3 (an integer)"]
    assert kept == ["wait_ratio", "horizon_slack"] and list(config) == list(SPACE)
    assert check_config({}, SPACE, START) == (START, [], list(SPACE))  # nothing proposed: nothing changes
    for proposed, error in (({"speed": 3}, "unknown parameter"), ({"size": "5"}, "must be a number"),
                            ({"size": True}, "must be a number"), ({"hole_ratio": None}, "must be a number")):  # fmt: skip
        with pytest.raises(ProposalError, match=error):
            check_config(proposed, SPACE, START)
    colours = ParamSpace({"colour": ChoiceParam(["red", "blue"]), "p": FloatParam(0.0, 1.0), "n": IntParam(1, 3)})
    assert check_config({"colour": "blue", "p": -1}, colours, {"colour": "red", "p": 0.5, "n": 1})[0] == {
        "colour": "blue", "p": 0.0, "n": 1}  # fmt: skip
    with pytest.raises(ProposalError, match="must be one of"):
        check_config({"colour": "green"}, colours, {"colour": "red", "p": 0.5, "n": 1})


def test_the_diff_names_each_change():
    changes = diff(START, {**START, "size": 5, "hole_ratio": 0.1})
    assert changes == [{"param": "size", "from": 4, "to": 5}, {"param": "hole_ratio", "from": 0.05, "to": 0.1}]
    assert describe_diff(changes) == "size 4 -> 5, hole_ratio 0.05 -> 0.1" and describe_diff([]) == "no change"


def test_an_invalid_proposal_is_repaired_with_the_validation_error(stage_summary):
    # The second reply comes only for a conversation that holds the first one's error.
    replay = ReplayChat([
        {"when": "unknown parameter(s) 'speed'", "replies": ['{"config": {"size": 5, "agents": 7}, "rationale": "r"}']},
        {"replies": ['{"config": {"speed": 3}, "rationale": "faster"}']},
    ])  # fmt: skip
    proposal = ModelEngineer(replay, name="replay").propose(context(stage_summary))
    assert proposal.outcome == "repaired" and proposal.rationale == "r"
    assert proposal.config == {**START, "size": 5, "agents": 4} and proposal.proposed == {"size": 5, "agents": 7}
    assert proposal.adjusted == ["agents 7 -> 4 (its maximum)"]
    assert [bool(attempt["error"]) for attempt in proposal.attempts] == [True, False]
    assert replay.usage.requests == 2


def test_two_invalid_proposals_leave_the_previous_configuration_standing(stage_summary):
    replay = ReplayChat([{"replies": ["Make it harder!", '{"config": {"size": "big"}}']}])
    proposal = ModelEngineer(replay, name="replay").propose(context(stage_summary))
    assert proposal.outcome == "rejected" and proposal.config == START and proposal.proposed is None
    assert [attempt["error"] for attempt in proposal.attempts] == [
        'the reply holds no JSON object; write exactly one, like {"config": {"<parameter>": <value>, ...}, '
        '"rationale": "<why, in one or two sentences>"}', "'size' must be a number in [4, 8], got \"big\""]  # fmt: skip
    assert "the previous configuration stands" in proposal.note and "'size' must be a number" in proposal.note
    assert json.dumps(proposal.to_dict())  # the record is plain JSON


def test_the_policy_engineer_asks_the_current_checkpoint(stage_summary):
    policy = ReplayChat([{"replies": ['{"config": {"hole_ratio": 0.1}, "rationale": "more holes"}']}])
    proposal = make_engineer("policy").propose(context(stage_summary, policy=policy))
    assert proposal.outcome == "accepted" and proposal.config["hole_ratio"] == 0.1 and policy.usage.requests == 1


def test_each_ablation_leaves_its_part_out_of_the_prompt(stage_summary):
    history = [{"stage": 1, "config": {**START, "size": 5}, "pass_rate": 0.5, "dead_group_share": 0.25}]
    full = prompt_text(context(stage_summary, stage=2, history=history))
    # What each part contributes: the configuration and history, the statistics, the failure evidence.
    parts = {
        "previous": [json.dumps(START), "earlier, stage 1", "(size=5)"],
        "statistics": ["pass rate 17% (1 of 6)", "dead-group share 75%", "reward 0.12", "answer block 83%"],
        "failures": ["unparseable 1, wrong_goal 1", "I am not sure how the agents should move.", "meet at (2, 0)"],
    }
    assert all(text in full for texts in parts.values() for text in texts)
    assert "-> pass rate 50%" in full  # the history's figures: statistics about earlier configurations
    for ablated, gone in parts.items():
        prompt = prompt_text(context(stage_summary, stage=2, history=history), [ablated])
        assert not any(text in prompt for text in gone), ablated
        assert all(text in prompt for other, texts in parts.items() if other != ablated for text in texts), ablated
        assert ("-> pass rate 50%" in prompt) == (ablated == "failures"), ablated
        assert '"x-harder": "down"' in prompt and "frozen lake" in prompt  # the space and the task stay in every prompt
    replay = ReplayChat([{"replies": ['{"config": {}, "rationale": "keep"}']}])
    proposal = ModelEngineer(replay, name="replay", ablate=["failures"]).propose(context(stage_summary))
    assert "agent_conflict" not in proposal.prompt and "Statistics of stage 1" in proposal.prompt
    assert proposal.outcome == "accepted" and proposal.config == START and proposal.kept == list(SPACE)
