"""Any envfoundry environment behind OpenEnv's protocol (``openenv-core``: reset / step / state).

OpenEnv clients, and TRL's OpenEnv integration through them, train on a remote environment by
calling ``reset()`` for an observation, ``step(action)`` for an observation with a reward and a
``done`` flag, and ``state()``. Here one episode is one instance:

* ``reset(seed=None, level=None, params=None, episode_id=None)`` samples an instance (the seed
  from the request, else the next of a server-wide counter that starts at ``TRAIN_SEED_BASE``, so
  served instances never repeat the held-out seeds ``envfoundry eval`` uses) and returns its prompt,
  with the environment's name, seed, level and parameters;
* ``step(EnvfoundryAction(response=...))`` scores the model's whole response with the
  environment's verifier (the last ``<answer>`` block) and returns the reward, ``done=True`` and
  the verdict: ``correct``, ``format_ok``, the parsed ``answer``, ``reason`` and
  ``verdict_metadata`` (an environment's failure class and other detail);
* ``state()`` gives the episode id, the step count, and the instance's environment, seed, level,
  parameters and reference (state is for the trainer; the policy only sees observations).

OpenEnv 0.3 keeps sessions on its WebSocket (``/ws``, what ``EnvClient`` speaks): each connection
gets an ``OpenEnvSession`` of its own, all sharing one environment, so sampling and scoring in the
sandbox reuse one worker pool. Its HTTP ``/reset`` and ``/step`` are stateless (a fresh session per
request), so over HTTP only ``reset`` is useful. Misuse (stepping before ``reset()`` or after the
answer, an unknown reset option, a bad level) is an error in the protocol's own convention: an
error message on the WebSocket (the client raises it), a 400 or 409 with ``detail`` over HTTP.

``serve-openenv`` in the CLI runs ``OpenEnvServer``; ``EnvfoundryEnv`` is the client.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocketDisconnect
from fastapi.responses import JSONResponse
from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient
from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment as OpenEnvEnvironment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from envfoundry.core.environment import Instance
from envfoundry.curriculum.curriculum import TRAIN_SEED_BASE
from envfoundry.errors import InvalidInputError
from envfoundry.resolve import make

DEFAULT_PORT = 8000
# Sessions are cheap (a thread each, no copy of the environment); a GRPO step of 64 prompts x 8
# completions scored at once fits, and a runaway client cannot exhaust the host.
DEFAULT_MAX_SESSIONS = 512
RESET_OPTIONS = ("seed", "level", "params", "episode_id")


class EpisodeStateError(InvalidInputError):
    """A step that the episode cannot take: before ``reset()``, or after its one answer."""


# ----- the protocol's types -----------------------------------------------------------------------
class EnvfoundryAction(Action):
    """What the policy does in an episode: answer, once, with its whole response."""

    response: str = Field(description="the model's full response; its last <answer>...</answer> block is scored")


class EnvfoundryObservation(Observation):
    """The instance (after ``reset``) and, after ``step``, the verdict on the response.

    The verdict's fields are ``None`` until the episode's step; ``reward`` and ``done`` are
    OpenEnv's own fields (``metadata`` is not sent over the wire by openenv-core 0.3, so nothing
    lives there).
    """

    env: str = Field(default="", description="the environment's registered name")
    version: int = Field(default=0, description="the environment's version")
    seed: int | None = Field(default=None, description="the instance's seed")
    level: float | None = Field(default=None, description="difficulty in [0, 1]; None when sampled from params only")
    params: dict[str, Any] = Field(default_factory=dict, description="the instance's resolved parameters")
    prompt: str = Field(default="", description="the task text for the model; it asks for <answer>...</answer>")
    correct: bool | None = Field(default=None, description="full reward")
    format_ok: bool | None = Field(default=None, description="the response had an <answer> block")
    answer: str | None = Field(default=None, description="the answer extracted from the response")
    reason: str = Field(default="", description="why the verifier gave this reward")
    verdict_metadata: dict[str, Any] = Field(
        default_factory=dict, description="the verifier's detail, e.g. a failure class"
    )


class EnvfoundryState(State):
    """The episode (``episode_id``, ``step_count``) and its instance, reference included."""

    env: str = ""
    version: int = 0
    seed: int | None = None
    level: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    reference: str | None = None
    done: bool = False


# ----- the server side ----------------------------------------------------------------------------
class EpisodeSampler:
    """What every session shares: the served environment, the default level and parameters, and
    the seed counter (server-wide, so two sessions never draw the same instance unasked)."""

    def __init__(self, env: Any, *, level: float | None = None, params: Mapping[str, Any] | None = None,
                 first_seed: int = TRAIN_SEED_BASE) -> None:  # fmt: skip
        if isinstance(first_seed, bool) or not isinstance(first_seed, int) or first_seed < 0:
            raise InvalidInputError(f"the first seed must be a non-negative integer, got {first_seed!r}")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInputError(
                f"params must be an object of parameter names to values, got {type(params).__name__}"
            )
        self.env = env
        self.level = level
        self.params = dict(params or {})
        env.parameter_space.resolve(level, self.params)  # a bad default fails now, not at the first reset
        self._next_seed = first_seed
        self._lock = threading.Lock()

    def next_seed(self) -> int:
        with self._lock:
            seed, self._next_seed = self._next_seed, self._next_seed + 1
        return seed

    def sample(self, seed: int | None, level: float | None, params: Any) -> Instance:
        """The instance of a new episode: the request's choices over the server's defaults."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidInputError(f"seed must be an integer, got {seed!r}")
        if level is not None and (isinstance(level, bool) or not isinstance(level, (int, float))):
            raise InvalidInputError(f"level must be a number in [0, 1], got {level!r}")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInputError(f"params must be an object of parameter names to values, got {params!r}")
        return self.env.sample(
            self.next_seed() if seed is None else seed,
            level=self.level if level is None else level,
            params={**self.params, **(params or {})},
        )

    def metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(name=self.env.name, description=self.env.description, version=str(self.env.version))


class OpenEnvSession(OpenEnvEnvironment):
    """One OpenEnv session's view of the served environment: its current episode.

    openenv-core makes one per WebSocket connection (and one per stateless HTTP request); they
    share the ``EpisodeSampler`` and so the environment, which ``close`` leaves running.
    """

    # A session's state is its episode; the environment is safe to share between threads (sample and
    # score are pure, and a sandboxed one's pool hands each call a free worker).
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, sampler: EpisodeSampler) -> None:
        super().__init__()
        self._sampler = sampler
        self._instance: Instance | None = None
        self._state = EnvfoundryState(env=sampler.env.name, version=sampler.env.version)

    def reset(self, seed: int | None = None, episode_id: str | None = None, level: float | None = None,
              params: Mapping[str, Any] | None = None, **unknown: Any) -> EnvfoundryObservation:  # fmt: skip
        if unknown:
            raise InvalidInputError(
                f"unknown reset option(s) {sorted(unknown)}: reset takes {', '.join(RESET_OPTIONS)}"
            )
        instance = self._sampler.sample(seed, level, params)
        self._instance = instance
        self._state = EnvfoundryState(
            episode_id=episode_id or uuid.uuid4().hex, step_count=0, env=instance.env, version=instance.version,
            seed=instance.seed, level=instance.level, params=instance.params, reference=instance.reference,
        )  # fmt: skip
        return self._observation(instance)

    def step(self, action: EnvfoundryAction, timeout_s: float | None = None, **kwargs: Any) -> EnvfoundryObservation:
        if self._instance is None:
            raise EpisodeStateError("no episode to step: call reset() first (over HTTP every request is a new "
                                    "session; episodes live on the WebSocket, /ws, that EnvClient uses)")  # fmt: skip
        if self._state.done:
            raise EpisodeStateError("this episode is over: an episode is one instance and one answer; "
                                    "call reset() for the next instance")  # fmt: skip
        verdict = self._sampler.env.score(self._instance, action.response)
        self._state.step_count += 1
        self._state.done = True
        observation = self._observation(self._instance)
        observation.reward = verdict.reward
        observation.done = True
        observation.correct = verdict.correct
        observation.format_ok = verdict.format_ok
        observation.answer = verdict.answer
        observation.reason = verdict.reason
        observation.verdict_metadata = dict(verdict.metadata)
        return observation

    @property
    def state(self) -> EnvfoundryState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return self._sampler.metadata()

    @staticmethod
    def _observation(instance: Instance) -> EnvfoundryObservation:
        return EnvfoundryObservation(env=instance.env, version=instance.version, seed=instance.seed,
                                     level=instance.level, params=instance.params, prompt=instance.prompt)  # fmt: skip


def create_openenv_app(env: Any, *, level: float | None = None, params: Mapping[str, Any] | None = None,
                       first_seed: int = TRAIN_SEED_BASE, max_sessions: int = DEFAULT_MAX_SESSIONS) -> FastAPI:  # fmt: skip
    """openenv-core's FastAPI app serving ``env`` (an environment already made; the caller closes
    it): ``/ws`` for sessions, ``/reset``, ``/step``, ``/state``, ``/schema``, ``/metadata``,
    ``/health``. ``level`` and ``params`` are the defaults a reset may override."""
    if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
        raise InvalidInputError(f"max_sessions must be a positive integer, got {max_sessions!r}")
    sampler = EpisodeSampler(env, level=level, params=params, first_seed=first_seed)
    app = create_fastapi_app(partial(OpenEnvSession, sampler), EnvfoundryAction, EnvfoundryObservation,
                             max_concurrent_envs=max_sessions)  # fmt: skip
    # Over HTTP, bad input is the client's mistake: a 4xx with the sentence, not a 500.
    app.add_exception_handler(InvalidInputError, partial(_error_response, 400))
    app.add_exception_handler(EpisodeStateError, partial(_error_response, 409))
    app.add_middleware(_QuietCleanDisconnects)
    app.state.envfoundry_sampler = sampler
    return app


class _QuietCleanDisconnects:
    """openenv-core 0.3 closes every session's socket after its client already has (the stock
    client always does), and the ``WebSocketDisconnect`` that raises escapes to uvicorn, which logs
    a traceback for each clean disconnect (huggingface/OpenEnv#1159). Only that exception, and only
    on WebSocket scopes, is dropped here; every other error still reaches the log."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except WebSocketDisconnect:
            pass


async def _error_response(status: int, request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": str(exc)})


class OpenEnvServer:
    """An OpenEnv server for one environment: ``run()`` in the foreground (``envfoundry
    serve-openenv``) or ``start()`` in a background thread (a notebook, a test); ``url`` says where.

    ``env`` is an environment, or any source ``envfoundry.make`` takes (a name, ``rg:NAME``, an
    archived name, a file: files and archived environments run in the sandbox); one made here is
    closed by ``stop()``. The socket is bound at construction, so a port in use fails at once;
    ``port=0`` takes a free one.
    """

    def __init__(self, env: Any, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, level: float | None = None,
                 params: Mapping[str, Any] | None = None, first_seed: int = TRAIN_SEED_BASE,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:  # fmt: skip
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidInputError(f"port must be an integer in [0, 65535], got {port!r}")
        self._owns_env = isinstance(env, (str, os.PathLike, type))
        self.env = make(env) if self._owns_env else env
        try:
            self.app = create_openenv_app(self.env, level=level, params=params, first_seed=first_seed,
                                          max_sessions=max_sessions)  # fmt: skip
            self._socket = _bind(host, port)
        except BaseException:
            self._close_env()
            raise
        self.host, self.port = host, self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C) or ``stop()``; then release the socket and the environment."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            self._close_env()

    def start(self, timeout_s: float = 30.0) -> OpenEnvServer:
        """Serve in a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="envfoundry-openenv", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the OpenEnv server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving (open sessions are closed) and release the socket and the environment."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:
            self._socket.close()
            self._close_env()

    def __enter__(self) -> OpenEnvServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_env(self) -> None:
        if self._owns_env and hasattr(self.env, "close"):
            self.env.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InvalidInputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


# ----- the client side ----------------------------------------------------------------------------
class EnvfoundryEnv(EnvClient[EnvfoundryAction, EnvfoundryObservation, EnvfoundryState]):
    """OpenEnv client of an envfoundry server (``envfoundry serve-openenv``), over its WebSocket.

    Async, as every ``EnvClient``; ``.sync()`` gives the blocking wrapper::

        with EnvfoundryEnv(base_url="http://127.0.0.1:8000").sync() as env:
            result = env.reset(seed=7, level=0.3)
            result = env.step(EnvfoundryAction(response=completion))  # or env.step(completion)
            result.reward, result.done, result.observation.reason

    One client is one session: its episodes run one after another; open a client per episode
    you want in flight at once.
    """

    def _step_payload(self, action: EnvfoundryAction | str | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(action, str):
            action = EnvfoundryAction(response=action)
        if isinstance(action, Mapping):
            return dict(action)  # as it is: the server checks it against the action's schema
        return action.model_dump()

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[EnvfoundryObservation]:
        fields = EnvfoundryObservation.model_fields
        data = {key: value for key, value in (payload.get("observation") or {}).items() if key in fields}
        reward, done = payload.get("reward"), bool(payload.get("done", False))
        return StepResult(observation=EnvfoundryObservation(**data, reward=reward, done=done), reward=reward, done=done)

    def _parse_state(self, payload: dict[str, Any]) -> EnvfoundryState:
        return EnvfoundryState(**payload)
