"""A chat model that replays fixed replies: for tests, demos and reproducing a run without a model.

The replies come from a JSON file (``replay:FILE`` wherever a model spec is taken) or a list:

    [{"when": "review", "replies": ["ACCEPT: looks right"]},
     {"replies": ["```python\\n...module...\\n```", "not code at all"]}]

Each rule has an optional ``when`` (a substring of the conversation's text; no ``when`` matches
every conversation) and ``replies``, handed out in order and then from the start again. The first
rule that matches a conversation answers it; a conversation that no rule matches is an LLMError.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.llm.base import ChatModel, Completion, Conversation, LLMError, check_messages


class ReplayChat(ChatModel):
    name = "replay"

    def __init__(self, rules: str | Path | list[dict[str, Any]]) -> None:
        super().__init__()
        if isinstance(rules, (str, Path)):
            path = Path(rules)
            try:
                rules = json.loads(path.read_text())
            except OSError as exc:
                raise InvalidInputError(f"cannot read the replay file '{path}': {exc.strerror}") from exc
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"the replay file '{path}' is not JSON (line {exc.lineno}: {exc.msg})") from exc
            self.name = f"replay:{path.name}"
        self.rules = _checked(rules)
        self._next = [0] * len(self.rules)
        self._lock = threading.Lock()

    def chat(self, messages: Conversation, *, max_tokens: int = 512, temperature: float = 0.7, top_p: float = 1.0,
             stop: list[str] | None = None, seed: int | None = None) -> Completion:  # fmt: skip
        text = "\n".join(message["content"] for message in check_messages(messages))
        for index, rule in enumerate(self.rules):
            if rule.get("when", "") in text:
                with self._lock:
                    reply = rule["replies"][self._next[index] % len(rule["replies"])]
                    self._next[index] += 1
                self.usage.add(requests=1, prompt_tokens=len(text.split()), completion_tokens=len(reply.split()))
                return Completion(reply, len(text.split()), len(reply.split()), "stop")
        self.usage.add(requests=1, failures=1)
        raise LLMError("no replay rule matches this conversation")


def _checked(rules: Any) -> list[dict[str, Any]]:
    if not isinstance(rules, list) or not rules:
        raise InvalidInputError("replay rules must be a non-empty JSON list of {\"when\": ..., \"replies\": [...]}")
    for i, rule in enumerate(rules):
        replies = rule.get("replies") if isinstance(rule, dict) else None
        if not isinstance(replies, list) or not replies or not all(isinstance(r, str) for r in replies):
            raise InvalidInputError(f"replay rule {i} needs \"replies\": a non-empty list of strings")
        if not isinstance(rule.get("when", ""), str):
            raise InvalidInputError(f"replay rule {i}: \"when\" must be a string")
    return rules
