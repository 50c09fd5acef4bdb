"""The multi-environment curriculum: an active set of environments, a difficulty controller per
environment, a sampler of GRPO groups, and the statistics that show whether groups are informative.

One training step: ``next_batch(n)`` gives ``n`` group requests (environment, level, instance);
the trainer rolls out ``group_size`` responses per group and reports each group's rewards with
``report``; ``end_step()`` updates every controller, applies the active-set rules and returns the
step's statistics. All state is plain JSON (``save`` / ``load``): a run resumed from a checkpoint
gives the same next batch as the run that wrote it.

Active-set rules (RLVE-style curation): at most ``active_size`` environments are active; one is
swapped out after ``patience`` straight steps at zero accuracy, ``patience`` straight steps at the
top level, or a non-positive difficulty slope over at least ``slope_window`` steps of its history;
seed environments keep at least ``min_seed_share`` of the active set, and of every batch (EvoEnv's
pool rotation: at least that share of each batch's groups come from active seed environments, so
synthesized environments never crowd the hand-checked ones out of a step); entrants unlike the active
ones are preferred: with a ``similarity(a, b)`` function (``diversity.EmbeddingSimilarity``) the
entrant whose nearest active environment is farthest, otherwise the one whose family, then kind, is
rarest among the active ones. At the end of every step, an environment that is neither active nor
owed a score (``release_idle``) is released, if it can be (a lazy pool entry: a sandboxed one stops
its workers); it starts again on its next use.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Instance
from envfoundry.core.files import write_json_atomic
from envfoundry.curriculum.controllers import Controller, controller_from_state, make_controller
from envfoundry.errors import InvalidInputError

# Training instances use seeds from here up (or from a later ``first_seed``: an environment engineer's
# stages each draw new ones); held-out evaluation uses seeds below it.
TRAIN_SEED_BASE = 1_000_000
CORRECT = 1.0 - 1e-9


@dataclass
class GroupRequest:
    group_id: int
    env: str
    level: float
    instance: Instance


def _slope(values: Sequence[float]) -> float:
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den if den else 0.0


def _few(names: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(names[:most]) or "none"
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class Curriculum:
    def __init__(
        self,
        envs: Mapping[str, Any],
        *,
        controller: str = "scaler",
        controller_options: Mapping[str, Any] | None = None,
        group_size: int = 8,
        active_size: int = 64,
        seed_envs: Sequence[str] = (),
        min_seed_share: float = 0.2,
        patience: int = 5,
        slope_window: int = 10,
        seed: int = 0,
        similarity: Callable[[str, str], float] | None = None,
        first_seed: int = TRAIN_SEED_BASE,
    ) -> None:
        if not envs:
            raise InvalidInputError("a curriculum needs at least one environment")
        if group_size < 2:
            raise InvalidInputError(f"group_size must be at least 2 (GRPO compares responses), got {group_size}")
        if first_seed < TRAIN_SEED_BASE:
            raise InvalidInputError(f"first_seed must be at least {TRAIN_SEED_BASE:,} (held-out seeds lie below), "
                                    f"got {first_seed}")  # fmt: skip
        self.envs = dict(envs)
        self.group_size = group_size
        self.active_size = min(active_size, len(self.envs))
        self.seed_envs = set(seed_envs) & set(self.envs)
        self.min_seed_share = min_seed_share
        self.patience = patience
        self.slope_window = slope_window
        self.controller_kind = controller
        self.controller_options = dict(controller_options or {})
        self.similarity = similarity
        self.rng = random.Random(seed)
        self.step = 0
        self.controllers: dict[str, Controller] = {
            name: make_controller(controller, **self.controller_options) for name in self.envs
        }
        self.next_seed = {name: first_seed for name in self.envs}
        self.history: dict[str, dict[str, Any]] = {
            name: {"levels": [], "zero_streak": 0, "top_streak": 0} for name in self.envs
        }
        self.active: list[str] = self._initial_active()
        self._pending: dict[int, tuple[str, float]] = {}
        self._results: dict[int, list[float]] = {}
        self._next_group = 0

    # ----- the active set -----------------------------------------------------------------------
    def _initial_active(self) -> list[str]:
        names = sorted(self.envs)
        seeds = [n for n in names if n in self.seed_envs]
        others = [n for n in names if n not in self.seed_envs]
        self.rng.shuffle(seeds)
        self.rng.shuffle(others)
        want_seeds = min(len(seeds), max(round(self.min_seed_share * self.active_size), 0))
        active = seeds[:want_seeds]
        rest = seeds[want_seeds:] + others
        self.rng.shuffle(rest)
        while len(active) < self.active_size and rest:
            active.append(self._most_unlike(rest, active))
            rest.remove(active[-1])
        return active

    def _traits(self, name: str) -> tuple[str, str]:
        env = self.envs[name]
        return getattr(env, "family", "") or "", getattr(env, "asymmetry", "") or ""

    def _most_unlike(self, candidates: Sequence[str], active: Sequence[str]) -> str:
        """The candidate least like the active set (ties: first in ``candidates``' order)."""
        families = [self._traits(n)[0] for n in active]
        kinds = [self._traits(n)[1] for n in active]

        def key(name: str) -> tuple[float, int, int]:
            nearest = max((self.similarity(name, a) for a in active), default=0.0) if self.similarity else 0.0
            return nearest, families.count(self._traits(name)[0]), kinds.count(self._traits(name)[1])

        return min(candidates, key=key)

    def _swap_reason(self, name: str) -> str | None:
        history = self.history[name]
        if history["zero_streak"] >= self.patience:
            return f"{self.patience} straight steps at zero accuracy"
        if history["top_streak"] >= self.patience:
            return f"{self.patience} straight steps at the top level"
        levels = history["levels"]
        if self.controller_kind != "fixed" and len(levels) >= self.slope_window and _slope(levels) <= 0:
            return f"difficulty slope {_slope(levels):.3f} <= 0 over {len(levels)} steps"
        return None

    def _apply_swaps(self) -> list[dict[str, str]]:
        swaps = []
        for name in list(self.active):
            reason = self._swap_reason(name)
            inactive = [n for n in sorted(self.envs) if n not in self.active]
            if reason is None or not inactive:
                continue
            remaining = [n for n in self.active if n != name]
            seeds_left = sum(n in self.seed_envs for n in remaining)
            if name in self.seed_envs and seeds_left < self.min_seed_share * self.active_size:
                inactive = [n for n in inactive if n in self.seed_envs] or inactive
            entrant = self._most_unlike(sorted(inactive, key=lambda n: self.rng.random()), remaining)
            self.active[self.active.index(name)] = entrant
            self.history[entrant].update(zero_streak=0, top_streak=0, levels=[])
            swaps.append({"out": name, "in": entrant, "reason": reason})
        return swaps

    def release_idle(self) -> list[str]:
        """Release every environment that is neither active nor owed a score for a pending group
        (a sandboxed one stops its workers; a lazy one starts again on its next use). Returns their names."""
        needed = set(self.active) | {name for name, _ in self._pending.values()}
        released = []
        for name, env in self.envs.items():
            if name not in needed and getattr(env, "is_open", False) and callable(getattr(env, "release", None)):
                env.release()
                released.append(name)
        return released

    # ----- sampling and feedback ----------------------------------------------------------------
    def next_batch(self, n_groups: int) -> list[GroupRequest]:
        """``n_groups`` group requests spread over the active environments."""
        if n_groups < 1:
            raise InvalidInputError(f"n_groups must be at least 1, got {n_groups}")
        per_env: dict[str, int] = {}
        order = list(self.active)
        self.rng.shuffle(order)
        # Pool rotation: the first ceil(share * n) groups go to active seed environments, the rest
        # spread over the active set, those not picked yet first.
        seeds = [name for name in order if name in self.seed_envs]
        wanted = min(n_groups, math.ceil(round(self.min_seed_share * n_groups, 9))) if seeds else 0
        picks = [seeds[index % len(seeds)] for index in range(wanted)]
        rest = [name for name in order if name not in picks] + [name for name in order if name in picks]
        picks += [rest[index % len(rest)] for index in range(n_groups - wanted)]
        for name in picks:
            per_env[name] = per_env.get(name, 0) + 1
        requests = []
        for name, count in per_env.items():
            levels = self.controllers[name].levels_for(count, self.rng)
            seeds = list(range(self.next_seed[name], self.next_seed[name] + count))
            self.next_seed[name] += count
            env = self.envs[name]
            for level, seed in zip(levels, seeds, strict=True):
                instance = env.sample(seed, level=level)
                requests.append(GroupRequest(self._next_group, name, level, instance))
                self._pending[self._next_group] = (name, level)
                self._next_group += 1
        return requests

    def awaiting(self, group_id: int) -> bool:
        """True while a handed-out group has not been reported."""
        return group_id in self._pending and group_id not in self._results

    def report(self, group_id: int, rewards: Sequence[float]) -> None:
        """The rewards of one group's rollouts."""
        if group_id not in self._pending:
            raise InvalidInputError(f"group {group_id} was not handed out in this step (or was reported already)")
        if len(rewards) < 1:
            raise InvalidInputError("a group needs at least one reward")
        self._results[group_id] = [float(r) for r in rewards]

    def end_step(self) -> dict[str, Any]:
        """Update the controllers with this step's groups, curate the active set, return statistics."""
        by_env: dict[str, list[tuple[float, list[float]]]] = {}
        for group_id, rewards in self._results.items():
            name, level = self._pending[group_id]
            by_env.setdefault(name, []).append((level, rewards))
        stats: dict[str, Any] = {"step": self.step, "envs": {}}
        all_rewards, dead, unsolved = [], 0, 0
        for name, groups in sorted(by_env.items()):
            controller = self.controllers[name]
            outcomes = [(level, sum(r >= CORRECT for r in rs) / len(rs), len(rs)) for level, rs in groups]
            controller.update(outcomes)
            rewards = [r for _, rs in groups for r in rs]
            dead_here = sum(max(rs) == min(rs) for _, rs in groups)
            # A dead group either failed every rollout (too hard for the policy) or solved every one.
            unsolved_here = sum(max(rs) == min(rs) and rs[0] < CORRECT for _, rs in groups)
            accuracy = sum(a * n for _, a, n in outcomes) / sum(n for _, _, n in outcomes)
            history = self.history[name]
            history["levels"].append(controller.level)
            history["zero_streak"] = history["zero_streak"] + 1 if accuracy == 0 else 0
            history["top_streak"] = history["top_streak"] + 1 if controller.at_top else 0
            stats["envs"][name] = {
                "level": round(controller.level, 4),
                "accuracy": accuracy,
                "reward_mean": statistics.fmean(rewards),
                "reward_std": statistics.pstdev(rewards),
                "groups": len(groups),
                "dead_share": dead_here / len(groups),
                "dead_unsolved_share": unsolved_here / len(groups),
            }
            all_rewards += rewards
            dead += dead_here
            unsolved += unsolved_here
        groups_total = len(self._results)
        stats.update(
            groups=groups_total,
            dead_groups=dead,
            dead_share=dead / groups_total if groups_total else 0.0,
            dead_unsolved_share=unsolved / groups_total if groups_total else 0.0,
            reward_mean=statistics.fmean(all_rewards) if all_rewards else 0.0,
            swaps=self._apply_swaps(),
            active=list(self.active),
        )
        # Groups handed out but not scored yet (a trainer fetches ahead) stay pending for the next step.
        for group_id in self._results:
            del self._pending[group_id]
        self._results = {}
        self.release_idle()
        self.step += 1
        return stats

    # ----- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {
            "step": self.step,
            "rng": [version, list(internal), gauss],
            "controllers": {name: c.state_dict() for name, c in self.controllers.items()},
            "next_seed": dict(self.next_seed),
            "history": self.history,
            "active": list(self.active),
            "next_group": self._next_group,
            "config": {"controller": self.controller_kind, "group_size": self.group_size,
                       "active_size": self.active_size, "envs": sorted(self.envs)},  # fmt: skip
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        config = state["config"]
        if sorted(config["envs"]) != sorted(self.envs):
            missing = sorted(set(config["envs"]) - set(self.envs))
            new = sorted(set(self.envs) - set(config["envs"]))
            raise InvalidInputError(f"the saved curriculum was made for other environments ({len(missing)} of its "
                             f"{len(config['envs'])} are missing here: {_few(missing)}; {len(new)} are new: "
                             f"{_few(new)})")  # fmt: skip
        for key, here in (("controller", self.controller_kind), ("active_size", self.active_size)):
            if config[key] != here:
                raise InvalidInputError(f"the saved curriculum has {key} {config[key]!r}; this one was made with {here!r}")
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.step = state["step"]
        self.controllers = {name: controller_from_state(s) for name, s in state["controllers"].items()}
        self.next_seed = dict(state["next_seed"])
        self.history = json.loads(json.dumps(state["history"]))
        self.active = list(state["active"])
        self._next_group = state["next_group"]
        self._pending, self._results = {}, {}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state atomically: a crash mid-write leaves the previous file intact."""
        write_json_atomic(path, self.state_dict(), indent=None)

    def load(self, path: str | os.PathLike[str]) -> None:
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read curriculum state '{path}': {exc}") from None
        self.load_state_dict(state)
