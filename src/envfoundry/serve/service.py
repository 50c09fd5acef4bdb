"""The service itself, without HTTP: the environments it serves, and what each endpoint does with
a parsed request. ``app.py`` puts it behind FastAPI; every method here runs in a request thread.

Environments come from one pool spec (``--envs``, ``curriculum.build_pool``): seed and registered
environments and reasoning-gym datasets run in this process; archived environments and files run
only in their sandbox's worker processes (``SandboxedEnvironment``, started on first use), never
here. A label names its environment, but only the served ones are looked up: a label can never make
the server open a file or an archive it was not started with.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Instance, Verdict
from envfoundry.core.files import write_json_atomic
from envfoundry.curriculum import Curriculum, Pool, build_pool
from envfoundry.errors import EnvfoundryError, InvalidInputError
from envfoundry.sandbox import SandboxError, SandboxUnavailable
from envfoundry.serve import payloads
from envfoundry.serve.config import ServeConfig
from envfoundry.serve.metrics import Metrics
from envfoundry.serve.sessions import DEFAULT_SESSION, Sessions, SharedEnvironment

# ``/sample`` with ``n`` hands out fresh seeds from here up: far above the curriculum's training seeds
# (from 1,000,000) and held-out evaluation's (below it), so the three never meet.
FRESH_SEED_BASE = 2**40
MAX_SEED = 2**63 - 1
ENDPOINTS = ("/health", "/metrics", "/envs", "/sample", "/score", "/get_reward", "/curriculum", "/curriculum/next",
             "/curriculum/report", "/curriculum/step")  # fmt: skip


class EnvironmentUnavailable(EnvfoundryError):
    """A served environment that cannot start (its sandbox cannot run here, or it failed to load)."""

    status = 503


class SamplingFailed(InvalidInputError):
    """The environment failed to sample the requested settings in its sandbox."""

    status = 422


def _few(names: Sequence[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


class Service:
    def __init__(self, config: ServeConfig, pool: Pool | None = None) -> None:
        config.check()
        self.config = config
        self.token = config.resolved_token()
        self.pool = pool if pool is not None else build_pool(config.envs, sandbox_workers=config.sandbox_workers)
        self.names = sorted(self.pool.envs)
        self.metrics = Metrics(ENDPOINTS)
        self.state_dir = Path(config.state_dir).expanduser() if config.state_dir else None
        self._open_lock = threading.Lock()
        self._seed_lock = threading.Lock()
        self._next_seed: dict[str, int] = self._load_seeds()
        shared = {name: SharedEnvironment(name, entry, self.environment) for name, entry in self.pool.envs.items()}
        seed_envs = self.pool.seed_names

        def make_curriculum() -> Curriculum:
            return Curriculum(shared, controller=config.controller, group_size=config.group_size,
                              active_size=config.active_size, seed_envs=seed_envs, seed=config.seed)  # fmt: skip

        self.sessions = Sessions(make_curriculum, state_dir=self.state_dir, max_sessions=config.max_sessions,
                                 max_batch=config.max_batch)  # fmt: skip
        self.metrics.add_gauges(self.sessions.gauges)

    # ----- environments -------------------------------------------------------------------------
    def environment(self, name: str) -> Any:
        """The served environment ``name``, started if it is not running (one start at a time)."""
        entry = self.pool.envs.get(name)
        if entry is None:
            raise InvalidInputError(f"unknown environment '{name}': this server serves {_few(self.names)}")
        if entry.is_open:
            return entry.env
        with self._open_lock:
            try:
                return entry.env
            except (SandboxUnavailable, SandboxError) as exc:
                raise EnvironmentUnavailable(f"environment '{name}' cannot start in its sandbox: {exc}") from None

    def describe_envs(self) -> list[dict[str, Any]]:
        """What the pool knows of each environment without starting it."""
        return [{"name": name, "origin": entry.origin, "family": entry.family, "asymmetry": entry.asymmetry,
                 "description": entry.description} for name, entry in sorted(self.pool.envs.items())]  # fmt: skip

    def instances_from_labels(self, labels: Sequence[Any], field: str) -> list[Instance]:
        """The instance of every label, each checked once (a GRPO batch repeats each label per rollout):
        it must be of a served environment, at the version served."""
        parsed: dict[str, Instance] = {}
        out = []
        for index, label in enumerate(labels):
            instance = parsed.get(label) if isinstance(label, str) else None
            if instance is None:
                where = f"'{field}[{index}]'"
                instance = payloads.instance_from_label(label, where)
                env = self.environment(instance.env)
                if instance.version != env.version:
                    raise InvalidInputError(f"{where} was sampled from version {instance.version} of "
                                            f"'{instance.env}', but this server has version {env.version}; "
                                            "sample it again")  # fmt: skip
                if isinstance(label, str):
                    parsed[label] = instance
            out.append(instance)
        return out

    # ----- scoring ------------------------------------------------------------------------------
    def score_instances(self, instances: Sequence[Instance], responses: Sequence[str],
                        bare: bool = False) -> list[Verdict]:  # fmt: skip
        """One verdict per response: one ``score_many`` call per environment (a sandboxed one scores
        its share in one round trip per worker)."""
        by_env: dict[str, list[int]] = {}
        for index, instance in enumerate(instances):
            by_env.setdefault(instance.env, []).append(index)
        verdicts: list[Any] = [None] * len(instances)
        for name, indices in by_env.items():
            env = self.environment(name)
            if bare:
                scored = [env.score_answer(instances[i], responses[i]) for i in indices]
            else:
                scored = env.score_many([instances[i] for i in indices], [responses[i] for i in indices])
            for index, verdict in zip(indices, scored, strict=True):
                verdicts[index] = verdict
            self.metrics.observe_scores(name, [v.reward for v in scored], sum(v.correct for v in scored),
                                        sum(v.format_ok for v in scored))  # fmt: skip
        return verdicts

    def score(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /score``: ``labels`` (or ``instances``, as objects) and ``responses``, one each."""
        limit = self.config.max_batch
        if ("labels" in data) == ("instances" in data):
            raise InvalidInputError("send exactly one of 'labels' (from /sample) or 'instances' (objects)")
        field = "labels" if "labels" in data else "instances"
        raw = data[field]
        if not isinstance(raw, list):
            raise InvalidInputError(f"'{field}' must be a list, got {payloads.kind_of(raw)}")
        responses = payloads.string_list(data, "responses", limit)
        labels = payloads.sequence(raw, field, limit)
        if len(labels) != len(responses):
            raise InvalidInputError(
                f"got {len(labels)} {field} but {len(responses)} responses; send one of each per item"
            )
        bare = payloads.boolean(data, "bare")
        detail = payloads.boolean(data, "detail")
        verdicts = self.score_instances(self.instances_from_labels(labels, field), responses, bare=bare)
        out: dict[str, Any] = {"rewards": [v.reward for v in verdicts], "correct": [v.correct for v in verdicts],
                               "format_ok": [v.format_ok for v in verdicts]}  # fmt: skip
        if detail:
            out["verdicts"] = [v.to_dict() for v in verdicts]
        return out

    # ----- sampling -----------------------------------------------------------------------------
    def sample(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /sample``: ``env``, then ``seeds`` (those instances) or ``n`` (that many fresh ones),
        optional ``level`` and ``params``."""
        name = payloads.string(data, "env")
        seeds = payloads.integer_list(data, "seeds", self.config.max_batch)
        n = payloads.integer(data, "n", low=1, high=self.config.max_batch)
        if (seeds is None) == (n is None):
            raise InvalidInputError(
                "send exactly one of 'seeds' (a list of integers) or 'n' (how many fresh instances)"
            )
        level = payloads.number(data, "level")
        params = payloads.mapping(data, "params")
        env = self.environment(name)
        if seeds is not None:
            for index, seed in enumerate(seeds):
                if not -MAX_SEED <= seed <= MAX_SEED:
                    raise InvalidInputError(f"'seeds[{index}]' must fit in 64 bits, got {seed}")
        # Parameters are checked before fresh seeds are spent on a request that would fail.
        env.parameter_space.resolve(level, params)
        if seeds is None:
            seeds = self._fresh_seeds(name, n)
        try:
            instances = env.sample_many(seeds, level=level, params=params)
        except SandboxError as exc:
            raise SamplingFailed(f"'{name}' failed to sample in its sandbox: {str(exc).splitlines()[0]}") from None
        self.metrics.observe_samples(name, len(instances))
        return {"env": name, "version": env.version,
                "instances": [{"seed": i.seed, "level": i.level, "params": i.params, "prompt": i.prompt,
                               "label": i.to_json()} for i in instances]}  # fmt: skip

    def _seeds_path(self) -> Path | None:
        return self.state_dir / "fresh_seeds.json" if self.state_dir is not None else None

    def _load_seeds(self) -> dict[str, int]:
        path = self._seeds_path()
        if path is None or not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
            return {str(name): int(seed) for name, seed in data["next_seed"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"cannot read the fresh-seed counter '{path}': {exc}") from None

    def _fresh_seeds(self, name: str, n: int) -> list[int]:
        with self._seed_lock:
            start = self._next_seed.get(name, FRESH_SEED_BASE)
            self._next_seed[name] = start + n
            path = self._seeds_path()
            if path is not None:
                write_json_atomic(path, {"next_seed": self._next_seed}, indent=None)
        return list(range(start, start + n))

    # ----- curriculum sessions ------------------------------------------------------------------
    def curriculum_next(self, data: Mapping[str, Any]) -> dict[str, Any]:
        groups = payloads.integer(data, "groups", low=1, high=self.config.max_batch)
        if groups is None:
            raise InvalidInputError("'groups' is required: how many GRPO groups to hand out")
        session = self.sessions.get(payloads.string(data, "session", DEFAULT_SESSION), create=True)
        return self.sessions.next(session, groups)

    def curriculum_report(self, data: Mapping[str, Any]) -> dict[str, Any]:
        session = self.sessions.get(payloads.string(data, "session", DEFAULT_SESSION), create=False)
        results = payloads.object_list(data, "results", self.config.max_batch)
        return self.sessions.report(session, results, payloads.boolean(data, "end_step"), self.score_instances)

    def curriculum_step(self, data: Mapping[str, Any]) -> dict[str, Any]:
        session = self.sessions.get(payloads.string(data, "session", DEFAULT_SESSION), create=False)
        return self.sessions.step(session)

    def curriculum_state(self, name: str) -> dict[str, Any]:
        return self.sessions.describe(self.sessions.get(name, create=False))

    # ----- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every sandbox worker the service started."""
        self.pool.close()
