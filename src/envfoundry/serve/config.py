"""The service's settings, written once: ``envfoundry serve`` makes its options from this dataclass
(``cli.options.add_options``), so every default lives here.

The limits are what keeps a busy or hostile client from taking the server down: a body larger than
``max_body_mb`` is refused (413), a batch of more than ``max_batch`` items is refused (400), and at
most ``max_inflight`` jobs run while ``max_queue`` more wait; beyond that a request is answered 503
with ``Retry-After`` at once instead of queueing without bound. The defaults take a whole OpenRLHF
rollout batch (1,024 prompts x 8 samples, a few KB each) in one request.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from envfoundry.errors import InvalidInputError

TOKEN_ENV = "ENVFOUNDRY_SERVE_TOKEN"
CONTROLLERS = ("scaler", "rlve", "fixed")


def is_loopback(host: str) -> bool:
    """True for a host only this machine can reach (127.0.0.0/8, ::1, localhost). A name other than
    localhost counts as reachable from elsewhere: it may resolve to any address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServeConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind; any but loopback needs a token"})
    port: int = field(default=8000, metadata={"help": "port to listen on (0: any free port)"})
    token: str | None = field(default=None, metadata={
        "help": f"bearer token every request but /health must carry (default: ${TOKEN_ENV}); required "
                "unless bound to loopback"})  # fmt: skip
    envs: str = field(default="seeds", metadata={
        "help": "the environments served, a pool spec: seeds, archive[:DIR], reasoning-gym, rg:NAME, names, "
                "files (archived ones and files run sandboxed)"})  # fmt: skip
    state_dir: str | None = field(default=None, metadata={
        "help": "keep curriculum sessions and the fresh-seed counter here, so they survive a restart",
        "metavar": "DIR"})  # fmt: skip
    max_body_mb: float = field(default=64.0, metadata={"help": "largest request body, in MiB (larger: 413)"})
    max_batch: int = field(default=16384, metadata={"help": "most items (responses, seeds, groups) in one request"})
    max_inflight: int = field(default=4, metadata={"help": "requests worked on at once (threads)"})
    max_queue: int = field(default=64, metadata={
        "help": "requests waiting for a thread; beyond that the server answers 503 with Retry-After"})  # fmt: skip
    sandbox_workers: int = field(default=1, metadata={"help": "worker processes per sandboxed environment"})
    controller: str = field(default="scaler", metadata={
        "help": "difficulty controller of curriculum sessions", "choices": list(CONTROLLERS)})  # fmt: skip
    group_size: int = field(default=8, metadata={"help": "rollouts per group in curriculum sessions"})
    active_size: int = field(default=64, metadata={"help": "active environments per curriculum session"})
    max_sessions: int = field(default=16, metadata={"help": "most curriculum sessions held at once"})
    format_reward: float = field(default=0.0, metadata={
        "help": "added to /get_reward's rewards for a well-formed <answer> block (scores stay the "
                "environment's reward)"})  # fmt: skip
    seed: int = field(default=0, metadata={"help": "seed of the curriculum sessions' samplers"})

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def resolved_token(self) -> str | None:
        """``token``, else ``$ENVFOUNDRY_SERVE_TOKEN``; an empty string is no token."""
        token = self.token if self.token is not None else os.environ.get(TOKEN_ENV)
        return token or None

    def check(self) -> None:
        """Every setting sane, and a token wherever the server is reachable from elsewhere."""
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise InvalidInputError(f"port must be in 0..65535, got {self.port!r}")
        for name in ("max_batch", "max_inflight", "sandbox_workers", "group_size", "active_size", "max_sessions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if isinstance(self.max_queue, bool) or not isinstance(self.max_queue, int) or self.max_queue < 0:
            raise InvalidInputError(f"max-queue must be 0 or more, got {self.max_queue!r}")
        if not self.max_body_mb > 0:
            raise InvalidInputError(f"max-body-mb must be positive, got {self.max_body_mb!r}")
        if self.controller not in CONTROLLERS:
            raise InvalidInputError(f"controller must be one of {', '.join(CONTROLLERS)}, got {self.controller!r}")
        if self.group_size < 2:
            raise InvalidInputError(f"group-size must be at least 2 (GRPO compares responses), got {self.group_size}")
        if not 0.0 <= self.format_reward <= 1.0:
            raise InvalidInputError(f"format-reward must be in [0, 1], got {self.format_reward}")
        if self.resolved_token() is None and not is_loopback(self.host):
            raise InvalidInputError(f"refusing to serve on {self.host} without a token: anyone who can reach it could "
                                    f"use it; pass --token or set {TOKEN_ENV}, or bind to 127.0.0.1")  # fmt: skip
