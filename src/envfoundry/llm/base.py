"""The chat-model contract shared by every backend: a completion, usage accounting, one error type."""

from __future__ import annotations

import abc
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from envfoundry.errors import EnvfoundryError

Message = dict[str, str]
Conversation = list[Message]

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})


class LLMError(EnvfoundryError, RuntimeError):
    """A language-model call failed; the message is one sentence saying what and where."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass
class Completion:
    """One reply: its text, the tokens it cost, and why generation stopped ("stop", "length", ...)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


@dataclass
class Usage:
    """Running totals for a model, safe to update from several threads."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    retries: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        failures: int = 0,
        retries: int = 0,
        seconds: float = 0.0,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.failures += failures
            self.retries += retries
            self.seconds += seconds

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "failures": self.failures,
                "retries": self.retries,
                "seconds": round(self.seconds, 3),
            }


def check_messages(messages: Any) -> Conversation:
    """Validate a chat conversation (a non-empty list of {"role", "content"} dicts) and return it."""
    if not isinstance(messages, list) or not messages:
        raise LLMError("A conversation must be a non-empty list of {'role': ..., 'content': ...} messages.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise LLMError(f"Message {i} must be a dict with a string 'content'.")
        if message.get("role") not in _ROLES:
            raise LLMError(f"Message {i} has role {message.get('role')!r}; expected one of {sorted(_ROLES)}.")
    return messages


def as_llm_error(exc: BaseException) -> LLMError:
    """Wrap any exception from a call as an LLMError (kept as is when it already is one)."""
    if isinstance(exc, LLMError):
        return exc
    error = LLMError(f"The model call failed with {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


class ChatModel(abc.ABC):
    """A chat model: `chat` answers one conversation, `chat_many` answers many (in order).

    Backends set `name`, may set `concurrency` (how many requests `chat_many` keeps in flight), and
    account every call in `usage`.
    """

    name: str = "chat-model"
    concurrency: int = 1

    def __init__(self) -> None:
        self.usage = Usage()

    @abc.abstractmethod
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
        """Answer one conversation; raise LLMError on failure."""

    def chat_many(
        self,
        conversations: list[Conversation],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> list[Completion | LLMError]:
        """Answer many conversations; result i belongs to conversation i, a failure is an LLMError in its place."""
        kwargs = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "stop": stop, "seed": seed}

        def one(conversation: Conversation) -> Completion | LLMError:
            try:
                return self.chat(conversation, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure is returned in place, never lost
                return as_llm_error(exc)

        if not conversations:
            return []
        workers = max(1, min(int(self.concurrency), len(conversations)))
        if workers == 1:
            return [one(c) for c in conversations]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llm-{self.name}") as pool:
            return list(pool.map(one, conversations))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
