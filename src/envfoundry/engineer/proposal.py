"""A model engineer's proposal: the prompt it reads, its reply parsed as JSON, the configuration
checked against the environment's parameter space and clamped into it, the diff against the
previous configuration, and one repair.

The prompt holds the environment's description, its parameter space (JSON Schema, with which way
each dimension gets harder), the configuration just trained on and the earlier ones, the stage's
statistics (training's dead-group share and reward; pass rate, reward and its spread per cell) and
its failure evidence (failure classes with counts and failing replies with the verifier's reason).
An ablation leaves one part out: ``failures``, ``statistics`` or ``previous`` (the configuration and
the history; the cells are then named only by how they relate to it).

The reply must hold one JSON object, ``{"config": {...}, "rationale": "..."}`` (a bare object of
parameters is read too). A parameter the space does not have, a value of the wrong type, or no
JSON object at all makes the reply unusable: the engineer is told why, once, and asked again
(``repaired`` when the second reply is usable). Two unusable replies and the previous
configuration stands (``rejected``, with the reasons). A usable value outside the space is
clamped into it and a fractional integer rounded; both are recorded. Parameters left out keep
their previous values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from envfoundry.core.params import ChoiceParam, IntParam, ParamSpace
from envfoundry.engineer.summaries import CURRENT
from envfoundry.errors import InvalidInputError
from envfoundry.llm import ChatModel, LLMError

ABLATIONS = ("failures", "statistics", "previous")
# accepted: the first reply was usable; repaired: the second was; rejected: neither (the previous
# configuration stands); rule: a baseline controller decided, no model involved.
OUTCOMES = ("accepted", "repaired", "rejected", "rule")
REPLY_FORMAT = '{"config": {"<parameter>": <value>, ...}, "rationale": "<why, in one or two sentences>"}'
RATIONALE_CHARS = 1000
PROMPT_REPLY_CHARS = 160  # each failing reply shown to the engineer, cut to this

SYSTEM = ("You are the environment engineer of a reinforcement-learning run that trains a language model. Between "
          "training stages you read how the model behaves and choose the configuration of the next stage's "
          "environment. You write configurations, never instances.")  # fmt: skip
GUIDANCE = ("Choose the next stage's configuration. A useful configuration keeps a learning signal: the model "
            "solves some instances and fails others. Making everything harder while it fails almost everything "
            "leaves nothing to learn from. Ground each change in the failures, change a little at a time, and keep "
            "what already works.")  # fmt: skip


class ProposalError(InvalidInputError):
    """A reply the loop cannot use; the message says why (and is sent back to the engineer)."""


@dataclass
class StageContext:
    """What an engineer decides from after a stage (the loop builds it).

    ``config``: the configuration the stage trained on; ``summary``: ``summaries.summarise``'s
    output; ``history``: the earlier stages, ``{"stage", "config", "pass_rate", "dead_group_share"}``
    each; ``policy``: the current checkpoint as a chat model, for the engineer that is the policy.
    """

    stage: int
    env_name: str
    description: str
    space: ParamSpace
    config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0
    policy: ChatModel | None = None


@dataclass
class Proposal:
    """What an engineer decided: ``config`` is what the next stage trains on.

    ``proposed``: the configuration as the engineer wrote it (before clamping), None when nothing
    was usable; ``adjusted``: each clamp or rounding, as a sentence; ``kept``: the parameters the
    proposal left out (they keep their previous values); ``attempts``: every model reply with why
    it could not be used (None when it could); ``prompt``: the text the model read.
    """

    config: dict[str, Any]
    rationale: str
    outcome: str
    proposed: dict[str, Any] | None = None
    adjusted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----- the reply ------------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in ``text``, outermost first (a model may wrap one in prose or a fence)."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    found, position = [], text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    return found


def parse_reply(text: str) -> tuple[dict[str, Any], str]:
    """The proposed configuration and its rationale in a reply; ``ProposalError`` if there is none."""
    objects = _objects(text or "")
    if not objects:
        raise ProposalError(f"the reply holds no JSON object; write exactly one, like {REPLY_FORMAT}")
    reply = objects[0]
    if "config" in reply:
        config = reply["config"]
        if not isinstance(config, dict):
            raise ProposalError(f'"config" must be a JSON object of parameter names to values, got {json.dumps(config)[:80]}')
    else:  # a bare object of parameters, perhaps with its rationale beside them
        config = {key: value for key, value in reply.items() if key != "rationale"}
    rationale = reply.get("rationale", "")
    rationale = rationale if isinstance(rationale, str) else json.dumps(rationale)
    return config, rationale.strip()[:RATIONALE_CHARS]


def check_config(proposed: Mapping[str, Any], space: ParamSpace,
                 previous: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:  # fmt: skip
    """``(config, adjusted, kept)``: the proposal checked against ``space`` and clamped into it,
    with the previous values for the parameters it leaves out. A parameter the space lacks or a value
    of the wrong type is a ``ProposalError``."""
    unknown = [name for name in proposed if name not in space]
    if unknown:
        raise ProposalError(f"unknown parameter(s) {', '.join(map(repr, unknown))}: the parameters are "
                            f"{', '.join(space)}")  # fmt: skip
    checked, adjusted = {}, []
    for name, value in proposed.items():
        param = space[name]
        if isinstance(param, ChoiceParam):
            try:
                checked[name] = param.validate(name, value)
            except InvalidInputError as exc:
                raise ProposalError(str(exc)) from None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ProposalError(f"'{name}' must be a number in [{param.low}, {param.high}], got {json.dumps(value)[:40]}")
        moved = value
        if isinstance(param, IntParam) and moved != math.floor(moved):
            moved = math.floor(moved + 0.5)
            adjusted.append(f"{name} {value} -> {moved} (an integer)")
        clamped = min(max(moved, param.low), param.high)
        if clamped != moved:
            adjusted.append(f"{name} {moved} -> {clamped} (its {'minimum' if clamped == param.low else 'maximum'})")
        checked[name] = int(clamped) if isinstance(param, IntParam) else float(clamped)
    config = {name: checked.get(name, previous[name]) for name in space}
    kept = [name for name in space if name not in proposed]
    return config, adjusted, kept


def diff(previous: Mapping[str, Any], config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The parameters that change: ``[{"param", "from", "to"}]``."""
    return [{"param": name, "from": previous.get(name), "to": value} for name, value in config.items()
            if previous.get(name) != value]  # fmt: skip


def describe_diff(changes: Sequence[Mapping[str, Any]]) -> str:
    """``"size 4 -> 5, hole_ratio 0.05 -> 0.1"``, or ``"no change"``."""
    return ", ".join(f"{change['param']} {change['from']} -> {change['to']}" for change in changes) or "no change"


# ----- the prompt -----------------------------------------------------------------------------------
def _percent(value: Any) -> str:
    return "n/a" if not isinstance(value, (int, float)) else f"{value:.0%}"


def _cell_name(cell: Mapping[str, Any], config: Mapping[str, Any], show_params: bool) -> str:
    if cell["cell"] == CURRENT:
        return "the current configuration"
    changed = {name: value for name, value in cell["params"].items() if config.get(name) != value}
    where = f" ({', '.join(f'{name}={value}' for name, value in changed.items())})" if show_params and changed else ""
    return f"one step {cell['cell'].split()[-1]} in {cell['cell'].rsplit(' ', 1)[0]}{where}"


def prompt_text(context: StageContext, ablate: Sequence[str] = ()) -> str:
    """The user message a model engineer reads after a stage, without the parts ``ablate`` names."""
    summary, stage = context.summary, context.stage
    show_previous = "previous" not in ablate
    parts = [f"Environment: {context.env_name}.\n{context.description}",
             "Parameter space (JSON Schema of one configuration; x-harder says which way a parameter gets harder):\n"
             + "\n".join(f"  {json.dumps(name)}: {json.dumps(schema)}"
                         for name, schema in context.space.json_schema()["properties"].items())]  # fmt: skip
    if show_previous:
        lines = [f"Configuration of stage {stage} (just trained on): {json.dumps(context.config)}"]
        for past in context.history:
            figures = ("" if "statistics" in ablate else
                       f" -> pass rate {_percent(past.get('pass_rate'))}, dead groups "
                       f"{_percent(past.get('dead_group_share'))}")  # fmt: skip
            lines.append(f"  earlier, stage {past['stage']}: {json.dumps(past['config'])}{figures}")
        parts.append("\n".join(lines))
    if "statistics" not in ablate:
        training = summary["training"]
        lines = [f"Statistics of stage {stage}:",
                 f"- training: {training.get('steps')} GRPO steps, dead-group share "
                 f"{_percent(training.get('dead_group_share'))} (groups whose answers all scored the same teach "
                 f"nothing), mean training reward "
                 f"{'n/a' if training.get('reward_mean') is None else format(training['reward_mean'], '.2f')}",
                 "- held-out instances after training:"]  # fmt: skip
        for cell in summary["cells"]:
            lines.append(f"  - {_cell_name(cell, context.config, show_previous)}: pass rate {_percent(cell['pass_rate'])} "
                         f"({round(cell['pass_rate'] * cell['n'])} of {cell['n']}), mean reward "
                         f"{cell['mean_reward']:.2f} (spread {cell['reward_std']:.2f}), replies with an answer block "
                         f"{_percent(cell['format_rate'])}")  # fmt: skip
        parts.append("\n".join(lines))
    if "failures" not in ablate:
        lines = [f"Failures on held-out instances after stage {stage} (class: count), with failing answers:"]
        for cell in summary["cells"]:
            counts = ", ".join(f"{name} {count}" for name, count in cell["failures"].items()) or "none"
            lines.append(f"- {_cell_name(cell, context.config, show_previous)}: {counts}")
            for example in cell["examples"]:
                reply = example["reply"][:PROMPT_REPLY_CHARS].replace("\n", " / ")
                lines.append(f"    [{example['failure']}] answer: {json.dumps(reply)} -> {example['reason'][:200]}")
        parts.append("\n".join(lines))
    parts.append(f"{GUIDANCE}\nReply with one JSON object and nothing else:\n{REPLY_FORMAT}\n"
                 "Parameters you leave out keep their current values.")  # fmt: skip
    return "\n\n".join(parts)


def propose(chat: ChatModel, context: StageContext, ablate: Sequence[str] = (), *, max_tokens: int = 256,
            temperature: float = 0.0) -> Proposal:  # fmt: skip
    """Ask ``chat`` for the next configuration; one repair when the reply cannot be used, then the
    previous configuration stands."""
    prompt = prompt_text(context, ablate)
    conversation = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    attempts: list[dict[str, Any]] = []
    for attempt in range(2):
        try:
            reply = chat.chat(conversation, max_tokens=max_tokens, temperature=temperature).text
        except LLMError as exc:
            attempts.append({"reply": None, "error": f"the model call failed: {exc}"})
            continue
        try:
            proposed, rationale = parse_reply(reply)
            config, adjusted, kept = check_config(proposed, context.space, context.config)
        except ProposalError as exc:
            attempts.append({"reply": reply, "error": str(exc)})
            conversation = [*conversation, {"role": "assistant", "content": reply},
                            {"role": "user", "content": f"That reply cannot be used: {exc}. Reply again with only "
                                                        f"the JSON object: {REPLY_FORMAT}"}]  # fmt: skip
            continue
        attempts.append({"reply": reply, "error": None})
        return Proposal(config, rationale, "accepted" if attempt == 0 else "repaired", proposed, adjusted, kept,
                        attempts, prompt=prompt)  # fmt: skip
    return Proposal(dict(context.config), "", "rejected", attempts=attempts, prompt=prompt,
                    note=f"no usable proposal in {len(attempts)} replies (last: {attempts[-1]['error']}); the previous "
                         "configuration stands")  # fmt: skip
