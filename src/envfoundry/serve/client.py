"""Clients of the service for trainers that score remotely, on the standard library alone (a trainer's
environment needs nothing but envfoundry itself, not even the serve extra).

* ``RewardClient(url, token)``: ``sample`` and ``score``; a 503 or 429 is retried after the server's
  ``Retry-After``, any other refusal raises ``ServiceError`` with the server's sentence.
* ``TrlReward(url, token)``: a reward function for TRL's ``GRPOTrainer`` over a dataset with a
  ``label`` column (``reward_funcs=[TrlReward(url)]``).
* ``verl_compute_score``: verl's batched ``custom_reward_function`` (``reward_model.reward_manager=batch``):
  ``ground_truth`` is the label; the URL and token come from ``ENVFOUNDRY_SERVE_URL`` and
  ``ENVFOUNDRY_SERVE_TOKEN``, since verl imports the function by path and name.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from envfoundry.errors import EnvfoundryError

URL_ENV = "ENVFOUNDRY_SERVE_URL"
TOKEN_ENV = "ENVFOUNDRY_SERVE_TOKEN"


class ServiceError(EnvfoundryError, RuntimeError):
    """The service refused a request (``status`` says how), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RewardClient:
    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 300.0, retries: int = 10) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        self.timeout_s = timeout_s
        self.retries = retries

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` as JSON and return the decoded answer; waits out 503/429 up to ``retries`` times."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    return json.loads(reply.read())
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt < self.retries:
                    time.sleep(_retry_after(exc.headers.get("Retry-After")))
                    continue
                raise ServiceError(f"{path}: {_error_sentence(exc)}", exc.code) from None
            except (urllib.error.URLError, OSError) as exc:
                raise ServiceError(f"cannot reach the envfoundry service at {self.url}: "
                                   f"{getattr(exc, 'reason', exc)}") from None  # fmt: skip
        raise AssertionError("unreachable")

    def sample(self, env: str, *, n: int | None = None, seeds: Sequence[int] | None = None,
               level: float | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Instances (``prompt``, ``label``, ``seed``, ...): these ``seeds``, or ``n`` fresh ones."""
        payload: dict[str, Any] = {"env": env, "level": level}
        payload.update({"seeds": list(seeds)} if seeds is not None else {"n": n})
        return self.post("/sample", payload)["instances"]

    def score(self, labels: Sequence[str], responses: Sequence[str]) -> list[float]:
        """The reward of each response to the instance its label carries."""
        return self.post("/score", {"labels": list(labels), "responses": list(responses)})["rewards"]


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value), 0.1), 30.0) if value else 1.0
    except ValueError:
        return 1.0


def _error_sentence(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {exc.code} {exc.reason}"


def _text(completion: Any) -> str:
    """A completion as TRL gives it: text, or a list of chat messages (the last one's content)."""
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return completion if isinstance(completion, str) else str(completion)


class TrlReward:
    """``reward(prompts, completions, label, **kwargs) -> list[float]`` for TRL's ``GRPOTrainer``:
    each completion scored by the service against the instance in the dataset's ``label`` column."""

    __name__ = "envfoundry_remote_reward"

    def __init__(self, url: str, token: str | None = None) -> None:
        self.client = RewardClient(url, token)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], label: Sequence[str],
                 **kwargs: Any) -> list[float]:  # fmt: skip
        return self.client.score(list(label), [_text(c) for c in completions])


def verl_compute_score(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[str],
                       extra_infos: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:  # fmt: skip
    """verl's batched reward function: ``ground_truths`` are envfoundry labels, ``solution_strs`` the
    responses. Set ``ENVFOUNDRY_SERVE_URL`` (and ``ENVFOUNDRY_SERVE_TOKEN``) where verl runs it."""
    url = os.environ.get(URL_ENV)
    if not url:
        raise ServiceError(f"set {URL_ENV} to the envfoundry service (e.g. http://127.0.0.1:8000)")
    return RewardClient(url).score(list(ground_truths), list(solution_strs))
