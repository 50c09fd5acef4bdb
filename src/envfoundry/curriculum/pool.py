"""The pool a curriculum draws its active set from: the seed library, the archive's admitted
environments and adapted third-party tasks (reasoning-gym), named by one spec.

A spec is a list of items (the CLI takes them comma-separated):

=====================  ===========================================================================
``seeds``              the seed library (14 environments, in this process)
``archive``            every environment admitted to the default archive (``$ENVFOUNDRY_ARCHIVE``)
``archive:DIR``        every environment admitted to the archive at ``DIR``
``reasoning-gym``      reasoning-gym's vetted datasets (``adapters.reasoning_gym.DEFAULT_DATASETS``);
                       ``rg`` for short
``rg:NAME``            one reasoning-gym dataset
``NAME`` / ``PATH``    one environment: a registered name, a name in the default archive, or a
                       file (sandboxed)
=====================  ===========================================================================

A pool can be much larger than the active set (RLVE trains on 400 environments, 64 at a time), so
its entries are ``LazyEnvironment``: name, family, kind and description are known up front; the
environment itself — for archived code, a sandbox with its own worker process — starts on first
use and is released when the curriculum swaps it out (and started again if it comes back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.resolve import ORIGINS, Source, locate, open_source


class LazyEnvironment:
    """An environment that starts on first use. ``family``, ``asymmetry``, ``description`` and
    ``prompts`` (sample prompts recorded earlier, if any) are known without starting it; every
    other attribute (``sample``, ``score``, ``parameter_space``, ...) starts it."""

    def __init__(
        self,
        name: str,
        opener: Callable[[], Any],
        *,
        origin: str,
        family: str = "",
        asymmetry: str = "",
        description: str = "",
        prompts: Sequence[str] = (),
    ) -> None:
        if origin not in ORIGINS:
            raise InvalidInputError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
        self.name = name
        self.origin = origin
        self.family = family
        self.asymmetry = asymmetry
        self.description = description
        self.prompts = list(prompts)
        self._opener = opener
        self._env: Any = None
        self.opened = 0  # how many times it was started (a swapped-out environment may come back)

    @property
    def is_open(self) -> bool:
        return self._env is not None

    @property
    def env(self) -> Any:
        if self._env is None:
            self._env = self._opener()
            self.opened += 1
        return self._env

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self.env, attribute)

    def release(self) -> None:
        """Stop the environment's sandbox workers, if it has any; the next use starts it again."""
        env, self._env = self._env, None
        if env is not None and hasattr(env, "close"):
            env.close()

    close = release

    def __repr__(self) -> str:
        return f"LazyEnvironment({self.name!r}, origin={self.origin!r}, open={self.is_open})"


class PinnedEnvironment:
    """An environment with some parameters pinned (a wrapper, Gymnasium-style): every instance it
    samples has them, whatever level it is asked for; the level still sets the dimensions left out,
    and parameters given to ``sample`` itself win. Training on an environment engineer's
    configuration is training on the environment pinned to it. Everything else (``score``,
    ``release``, the name, ...) is the wrapped environment's."""

    def __init__(self, env: Any, params: Mapping[str, Any]) -> None:
        self.wrapped = env
        self.pinned = dict(params)
        env.parameter_space.resolve(None, self.pinned)  # a bad configuration fails here, in one sentence

    def sample(self, seed: int, level: float | None = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.wrapped.sample(seed, level=level, params={**self.pinned, **(params or {})})

    def sample_many(self, seeds: Sequence[int], level: float | None = None,
                    params: Mapping[str, Any] | None = None) -> list[Any]:  # fmt: skip
        return self.wrapped.sample_many(seeds, level=level, params={**self.pinned, **(params or {})})

    def time_samples(self, seeds: Sequence[int], level: float | None = None,
                     params: Mapping[str, Any] | None = None) -> list[float]:  # fmt: skip
        return self.wrapped.time_samples(seeds, level=level, params={**self.pinned, **(params or {})})

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") or attribute in ("wrapped", "pinned"):
            raise AttributeError(attribute)
        return getattr(self.wrapped, attribute)

    def __repr__(self) -> str:
        return f"PinnedEnvironment({self.wrapped!r}, {self.pinned!r})"


@dataclass
class Pool:
    """Named environments and where each came from."""

    envs: dict[str, LazyEnvironment] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.envs)

    @property
    def seed_names(self) -> list[str]:
        return [name for name, env in self.envs.items() if env.origin == "seed"]

    def origins(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for env in self.envs.values():
            counts[env.origin] = counts.get(env.origin, 0) + 1
        return counts

    def add(self, env: LazyEnvironment) -> None:
        existing = self.envs.get(env.name)
        if existing is not None:
            env.release()
            if existing.origin == env.origin:
                return  # named twice (e.g. ``seeds,knapsack``): once is enough
            raise InvalidInputError(f"two environments in the pool are named '{env.name}' (from {existing.origin} "
                             f"and from {env.origin}); leave one of them out")  # fmt: skip
        self.envs[env.name] = env

    def close(self) -> None:
        for env in self.envs.values():
            env.release()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_spec(spec: str | Sequence[str]) -> list[str]:
    """``"seeds,rg:leg_counting"`` or ``["seeds", "rg:leg_counting"]`` -> the items, blanks dropped."""
    items = spec.split(",") if isinstance(spec, str) else [str(item) for item in spec]
    items = [item.strip() for item in items if item.strip()]
    if not items:
        raise InvalidInputError("the environment pool is empty: name at least one of seeds, archive, reasoning-gym, "
                         "rg:NAME, an environment name or a file")  # fmt: skip
    return items


def build_pool(spec: str | Sequence[str], *, sandbox_workers: int = 1) -> Pool:
    """The pool a spec names (see the module docstring). Archived environments and files run
    sandboxed with ``sandbox_workers`` worker processes each while they are active."""
    pool = Pool()
    for item in parse_spec(spec):
        for env in _resolve(item, sandbox_workers):
            pool.add(env)
    return pool


def _resolve(item: str, workers: int) -> Iterable[LazyEnvironment]:
    """The pool entries one spec item names; a single environment is located by ``envfoundry.resolve``,
    the same way ``envfoundry.make`` finds it."""
    if item == "seeds":
        from envfoundry.envs import seed_names

        return [_entry(Source("seed", name), workers) for name in seed_names()]
    if item == "archive" or item.startswith("archive:"):
        return _archived(item.partition(":")[2] or None, workers)
    if item in ("reasoning-gym", "reasoning_gym", "rg"):
        from envfoundry.adapters.reasoning_gym import DEFAULT_DATASETS

        return [_entry(Source("reasoning_gym", dataset), workers) for dataset in DEFAULT_DATASETS]
    return [_entry(locate(item), workers)]


def _entry(found: Source, workers: int) -> LazyEnvironment:
    """A pool entry, started once to learn its name and description. Code from the archive or a file
    runs sandboxed and is stopped again until the curriculum needs it; the rest stays (it is cheap)."""
    sandboxed = found.origin in ("archive", "file")
    options = {"workers": workers} if sandboxed else {}

    def opener() -> Any:
        return open_source(found, **options)

    env = opener()
    lazy = LazyEnvironment(env.name, opener, origin=found.origin, family=getattr(env, "family", "") or "",
                           asymmetry=getattr(env, "asymmetry", "") or "",
                           description=getattr(env, "description", "") or "")  # fmt: skip
    lazy._env, lazy.opened = env, 1
    if sandboxed:
        lazy.release()
    return lazy


def _archived(root: str | None, workers: int) -> list[LazyEnvironment]:
    """Every environment admitted to the archive at ``root`` (the default archive if None), not started:
    the archive records their descriptions and sample prompts."""
    from envfoundry.archive import Archive, archive_exists, default_archive_dir

    directory = Path(root).expanduser() if root else default_archive_dir()
    if not archive_exists(directory):
        raise InvalidInputError(f"no archive at '{directory}' (run `envfoundry synthesize` or `envfoundry archive add` "
                         "first, or set ENVFOUNDRY_ARCHIVE)")  # fmt: skip
    with Archive(directory) as archive:
        admitted = archive.environments()
        paths = {env.name: archive.path_for(env.name) for env in admitted}
    if not admitted:
        raise InvalidInputError(f"the archive at '{directory}' has no admitted environments yet")
    out = []
    for entry in admitted:
        found = Source("archive", str(paths[entry.name]))

        def opener(found: Source = found) -> Any:
            return open_source(found, workers=workers)

        out.append(LazyEnvironment(entry.name, opener, origin="archive", family=entry.family or "",
                                   asymmetry=entry.asymmetry or "", description=entry.description or "",
                                   prompts=(entry.novelty or {}).get("prompts") or []))  # fmt: skip
    return out
