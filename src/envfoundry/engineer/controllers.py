"""Engineers: who writes the next stage's configuration. The model engineer (any chat backend: the
current checkpoint, the base model, the embedded model, an OpenAI-compatible server, replayed
replies) and the baselines it is compared with, all behind one interface,
``propose(context) -> Proposal``, so the loop runs each the same way and on the same budget:

* ``fixed``: the configuration never changes;
* ``heuristic``: a hand-written controller: raise the hardest dimension (the one furthest along
  its difficulty range that can still rise) one step when the pass rate on the current
  configuration is above 0.8, lower it (the one furthest along that can still fall) below 0.2;
* ``random``: one dimension, chosen at random, one step up or down at random;
* ``scaler``: the curriculum's SCALER level controller (``curriculum.ScalerController``:
  d <- clip(d + clip(k (acc - 0.5), -1, 1), 0, d_max)) on the pass rate, the configuration being
  the space at level d / d_max, from ``--start-level`` (a ``--start`` configuration off the level
  line is left at the first update).

Every baseline is a function of the run's record (the stage summaries and the seed), so a resumed
run decides exactly as the interrupted one would have.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from envfoundry.curriculum import ScalerController
from envfoundry.engineer.proposal import ABLATIONS, Proposal, StageContext, propose
from envfoundry.engineer.summaries import current_cell, difficulty, movable, step
from envfoundry.errors import InvalidInputError
from envfoundry.llm import ChatModel

BASELINES = ("fixed", "heuristic", "random", "scaler")
MODEL_ENGINEERS = ("policy", "base", "embedded")


class Engineer:
    """Writes the next configuration from a stage's context."""

    name = "engineer"
    ablate: tuple[str, ...] = ()

    def propose(self, context: StageContext) -> Proposal:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release what the engineer holds (a loaded model)."""


class ModelEngineer(Engineer):
    """A chat model reads the stage's summary and writes the configuration (``proposal.propose``).

    ``chat``: the model, or a function that makes it on first use; None means the current policy
    (``context.policy``, the checkpoint the stage just trained).
    """

    def __init__(self, chat: ChatModel | Callable[[], ChatModel] | None = None, *, name: str = "policy",
                 ablate: Sequence[str] = (), max_tokens: int = 256, temperature: float = 0.0) -> None:  # fmt: skip
        self.name = name
        self.ablate = check_ablations(ablate)
        self.uses_policy = chat is None
        self._model = chat if isinstance(chat, ChatModel) else None
        self._factory = None if isinstance(chat, ChatModel) else chat
        self.max_tokens = max_tokens
        self.temperature = temperature

    def chat_for(self, context: StageContext) -> ChatModel:
        if self.uses_policy:
            if context.policy is None:
                raise InvalidInputError("the policy engineer needs the current checkpoint as a chat model")
            return context.policy
        if self._model is None:
            self._model = self._factory()
        return self._model

    def propose(self, context: StageContext) -> Proposal:
        return propose(self.chat_for(context), context, self.ablate, max_tokens=self.max_tokens,
                       temperature=self.temperature)  # fmt: skip

    def close(self) -> None:
        if self._factory is not None:
            self._model = None  # made again on next use, if ever


class FixedEngineer(Engineer):
    """The baseline that never changes the configuration."""

    name = "fixed"

    def propose(self, context: StageContext) -> Proposal:
        return Proposal(dict(context.config), "fixed configuration (baseline): it stands", "rule")


class HeuristicEngineer(Engineer):
    """Raise the hardest dimension one step above ``high`` pass rate, lower it below ``low``."""

    name = "heuristic"

    def __init__(self, low: float = 0.2, high: float = 0.8) -> None:
        self.low, self.high = low, high

    def propose(self, context: StageContext) -> Proposal:
        rate = current_cell(context.summary)["pass_rate"]
        if self.low <= rate <= self.high:
            return Proposal(dict(context.config), f"pass rate {rate:.0%} is within [{self.low:.0%}, {self.high:.0%}]: "
                            "keep the configuration", "rule")  # fmt: skip
        harder = rate > self.high
        space, config = context.space, context.config
        names = sorted(movable(space), key=lambda name: -difficulty(space[name], config[name]))  # stable: ties in order
        for name in names:
            moved = step(space[name], config[name], harder)
            if moved is not None:
                return Proposal({**config, name: moved}, f"pass rate {rate:.0%} is {'above' if harder else 'below'} "
                                f"{(self.high if harder else self.low):.0%}: {'raise' if harder else 'lower'} "
                                f"{name}, the hardest dimension that can {'rise' if harder else 'fall'}", "rule")  # fmt: skip
        return Proposal(dict(config), f"pass rate {rate:.0%}, but every dimension is at its "
                        f"{'hardest' if harder else 'easiest'}: keep the configuration", "rule")  # fmt: skip


class RandomEngineer(Engineer):
    """One dimension, at random, one step harder or easier at random (seeded by the run and stage)."""

    name = "random"

    def propose(self, context: StageContext) -> Proposal:
        rng = random.Random(f"engineer-random:{context.seed}:{context.stage}")  # str seeds hash the same everywhere
        space, config = context.space, context.config
        moves = [(name, moved) for name in movable(space) for harder in (True, False)
                 if (moved := step(space[name], config[name], harder)) is not None]  # fmt: skip
        if not moves:
            return Proposal(dict(config), "no dimension can move: keep the configuration", "rule")
        name, moved = rng.choice(moves)
        return Proposal({**config, name: moved}, f"random perturbation (baseline): {name} one step", "rule")


class ScalerEngineer(Engineer):
    """SCALER's level controller, one update per stage on the pass rate of the current configuration;
    the next configuration is the space at level d / d_max."""

    name = "scaler"

    def __init__(self, start_level: float = 0.0, target: float = 0.5, k: float = 2.0, d_max: int = 10) -> None:
        self.start_level, self.target, self.k, self.d_max = start_level, target, k, d_max

    def propose(self, context: StageContext) -> Proposal:
        controller = ScalerController(target=self.target, k=self.k, d_max=self.d_max, d=self.start_level * self.d_max)
        # The controller's state is a function of the pass rates so far: replayed, a resumed run agrees.
        rates = [past["pass_rate"] for past in context.history] + [current_cell(context.summary)["pass_rate"]]
        for rate in rates:
            controller.update([(controller.level, rate, 1)])
        level = controller.level
        return Proposal(context.space.at_level(level), f"SCALER: pass rate {rates[-1]:.0%} against the target "
                        f"{self.target:.0%} moves the level to {level:.2f}", "rule")  # fmt: skip


def check_ablations(ablate: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in ablate if name not in ABLATIONS]
    if unknown:
        raise InvalidInputError(f"unknown ablation '{unknown[0]}': choose from {', '.join(ABLATIONS)}")
    return tuple(dict.fromkeys(ablate))


def make_engineer(spec: str, *, model_name: str | None = None, policy: str = "embedded", ablate: Sequence[str] = (),
                  max_tokens: int = 256, temperature: float = 0.0, start_level: float = 0.0,
                  batch_size: int = 16) -> Engineer:  # fmt: skip
    """The engineer ``spec`` names: ``policy`` (the current checkpoint), ``base`` (the starting policy,
    never trained), ``embedded`` (SmolLM2-135M), a checkpoint directory, an OpenAI-compatible URL
    (``model_name`` its model id), ``replay:FILE``, or a baseline (``fixed``, ``heuristic``,
    ``random``, ``scaler``). ``ablate`` applies to a model engineer only."""
    spec = spec.strip()
    if spec in BASELINES:
        if ablate:
            raise InvalidInputError(f"--ablate changes what a model engineer reads; the {spec} baseline reads no prompt")
        return {"fixed": FixedEngineer, "heuristic": HeuristicEngineer, "random": RandomEngineer,
                "scaler": lambda: ScalerEngineer(start_level)}[spec]()  # fmt: skip
    options = {"ablate": ablate, "max_tokens": max_tokens, "temperature": temperature}
    if spec == "policy":
        return ModelEngineer(None, name="policy", **options)
    from envfoundry.evaluate import make_backend

    if spec.lower().startswith(("http://", "https://")):
        if not model_name:
            raise InvalidInputError(f"the engineer at {spec} needs its model id there (--engineer-model NAME)")
        return ModelEngineer(lambda: make_backend(spec, model_name, batch_size=batch_size), name=model_name, **options)
    if spec.startswith("replay:"):
        from envfoundry.llm import make_chat_model

        return ModelEngineer(make_chat_model(spec), name="replay", **options)
    if spec == "base":
        start = None if policy == "embedded" else policy
        return ModelEngineer(lambda: make_backend(None, start, batch_size=batch_size), name="base", **options)
    if spec == "embedded":
        return ModelEngineer(lambda: make_backend(None, None, batch_size=batch_size), name="embedded", **options)
    if Path(spec).is_dir():
        return ModelEngineer(lambda: make_backend(None, spec, batch_size=batch_size), name=spec, **options)
    raise InvalidInputError(f"unknown engineer '{spec}': use policy, base, embedded, a checkpoint directory, an "
                            f"http(s) URL, replay:FILE, or a baseline ({', '.join(BASELINES)})")  # fmt: skip
