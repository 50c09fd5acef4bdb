"""Language-model backends: an OpenAI-compatible HTTP client and an embedded SmolLM2-135M-Instruct.

`make_chat_model(None)` gives the embedded model (needs the `train` extra: torch, transformers, gguf);
`make_chat_model("http://localhost:8000/v1", "my-model")` talks to vLLM, SGLang, llama.cpp's server or a hosted
API using only the standard library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.llm.base import ChatModel, Completion, Conversation, LLMError, Message, Usage
from envfoundry.llm.embedded import (
    EmbeddedChat,
    cache_root,
    embedded_model_dir,
    load_embedded_model_and_tokenizer,
    locate_gguf,
)
from envfoundry.llm.extract import extract_code
from envfoundry.llm.openai_compat import OpenAIChat
from envfoundry.llm.replay import ReplayChat

__all__ = [
    "ChatModel",
    "Completion",
    "Conversation",
    "EmbeddedChat",
    "LLMError",
    "Message",
    "OpenAIChat",
    "ReplayChat",
    "Usage",
    "cache_root",
    "embedded_model_dir",
    "extract_code",
    "load_embedded_model_and_tokenizer",
    "locate_gguf",
    "make_chat_model",
]


def make_chat_model(spec: str | None, model: str | None = None, **kwargs: Any) -> ChatModel:
    """A chat model from a short spec: None or "embedded" for SmolLM2, an http(s):// base URL for a server,
    ``replay:FILE`` for fixed replies (``llm.replay``).

    `model` is the server's model id (required for a URL); for "embedded" it may name a local checkpoint directory.
    Other keyword arguments go to the backend's constructor.
    """
    if spec is None or spec.strip().lower() == "embedded":
        if model is not None and model.lower() != EmbeddedChat.name:
            if not Path(model).is_dir():
                raise InvalidInputError(
                    f"The embedded backend runs {EmbeddedChat.name} or a model directory; {model!r} is neither."
                )
            kwargs.setdefault("model_dir", model)
        return EmbeddedChat(**kwargs)
    if spec.startswith("replay:"):
        return ReplayChat(spec[len("replay:") :])
    if spec.lower().startswith(("http://", "https://")):
        if not model:
            raise InvalidInputError(
                f"A model name is required for the endpoint {spec} (pass model=..., the server's model id)."
            )
        return OpenAIChat(spec, model, **kwargs)
    raise InvalidInputError(f"Unknown chat model spec {spec!r}; use 'embedded', an http(s):// base URL or replay:FILE.")
