"""A chat model behind any OpenAI-compatible `/chat/completions` endpoint, using only the standard library.

Works with vLLM, SGLang, llama.cpp's server, and hosted APIs. Connection errors, timeouts, HTTP 429 and 5xx
are retried with exponential back-off plus jitter (a `Retry-After` header wins); other 4xx fail at once.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.llm.base import ChatModel, Completion, Conversation, LLMError, check_messages

_USER_AGENT = "envfoundry-llm/0.1"


class OpenAIChat(ChatModel):
    """`OpenAIChat("http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct")`.

    The API key is `api_key` if given, else the environment variable `api_key_env` (read when the object is made);
    it only ever goes into the Authorization header. `extra_body` is merged into every request (for example
    `{"chat_template_kwargs": {"enable_thinking": False}}` for vLLM).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout_s: float = 120,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url, re.IGNORECASE):
            raise InvalidInputError(f"base_url must start with http:// or https:// (got {base_url!r}).")
        if not model or not isinstance(model, str):
            raise InvalidInputError("An OpenAI-compatible endpoint needs a model name (the server's model id).")
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0 or backoff_s < 0:
            raise InvalidInputError("concurrency must be >= 1, max_retries >= 0, timeout_s > 0 and backoff_s >= 0.")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.name = model
        self.concurrency = int(concurrency)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.extra_body = dict(extra_body or {})
        self._api_key = api_key if api_key is not None else (os.environ.get(api_key_env) or None)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"OpenAIChat(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    def chat(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Completion:
        start = time.perf_counter()
        retries = 0
        try:
            check_messages(messages)
            body: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "max_tokens": int(max_tokens),
                "temperature": float(temperature),
                "top_p": float(top_p),
            }
            if stop:
                body["stop"] = list(stop)
            if seed is not None:
                body["seed"] = int(seed)
            body.update(self.extra_body)
            payload, retries = self._post(json.dumps(body).encode("utf-8"))
            completion = self._parse(payload)
        except LLMError as exc:
            retries = getattr(exc, "retries", retries)
            self.usage.add(requests=1, failures=1, retries=retries, seconds=time.perf_counter() - start)
            raise
        self.usage.add(
            requests=1,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            retries=retries,
            seconds=time.perf_counter() - start,
        )
        return completion

    # -- transport ---------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": _USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _post(self, data: bytes) -> tuple[bytes, int]:
        """POST to the endpoint with retries; return (response body, retries used)."""
        attempts = self.max_retries + 1
        last = ""
        final_status: int | None = None
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                request = urllib.request.Request(self.url, data=data, headers=self._headers(), method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return response.read(), attempt
            except urllib.error.HTTPError as exc:
                status = exc.code
                message = _server_message(exc)
                if status != 429 and status < 500:
                    error = LLMError(f"{self.url} returned HTTP {status}: {message}", status=status)
                    error.retries = attempt
                    raise error from None
                last = f"HTTP {status}: {message}"
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                final_status = status
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                last = _one_line(f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__)
                final_status = None
            if attempt + 1 < attempts:
                time.sleep(self._delay(attempt, retry_after))
        error = LLMError(
            f"{self.url} failed after {attempts} attempt{'s' if attempts != 1 else ''}; last error: {last}",
            status=final_status,
            retryable=True,
        )
        error.retries = attempts - 1
        raise error

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff_s)
        base = self.backoff_s * (2**attempt)
        return min(base + random.uniform(0, self.backoff_s), self.max_backoff_s)

    def _parse(self, payload: bytes) -> Completion:
        try:
            data = json.loads(payload)
        except ValueError:
            raise LLMError(f"{self.url} returned a body that is not JSON: {_one_line(payload[:200])}") from None
        if not isinstance(data, dict):
            raise LLMError(f"{self.url} returned JSON that is not an object.")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            error = data.get("error")
            detail = f": {_error_text(error)}" if error else "."
            raise LLMError(f"{self.url} returned no choices{detail}")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        text = message.get("content")
        if text is None:
            text = choice.get("text") or ""
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            text=str(text),
            prompt_tokens=_as_int(usage.get("prompt_tokens")),
            completion_tokens=_as_int(usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
        )


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _one_line(text: str | bytes, limit: int = 300) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        for key in ("message", "detail", "error", "msg"):
            if error.get(key):
                return _error_text(error[key])
        return _one_line(json.dumps(error))
    if isinstance(error, list) and error:
        return _error_text(error[0])
    return _one_line(str(error))


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The server's error message, from an OpenAI-style JSON body when there is one, else the body's text."""
    try:
        body = exc.read()
    except Exception:  # noqa: BLE001 - a broken error body must not hide the status
        body = b""
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return _one_line(body)
        if isinstance(data, dict):
            for key in ("error", "message", "detail"):
                if data.get(key):
                    return _error_text(data[key])
        return _one_line(body)
    return _one_line(str(exc.reason or "no message"))


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
