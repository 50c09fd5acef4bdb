"""``envfoundry serve``: the reward and instance service (``envfoundry.serve``) on uvicorn."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors
from envfoundry.cli.options import add_options, options_from
from envfoundry.serve.config import TOKEN_ENV, ServeConfig

# uvicorn answers 503 itself beyond this many connections and tasks: a guard against connection
# floods, above the service's own limit (max_inflight + max_queue requests), which answers first.
MIN_CONNECTIONS = 1024


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer waits ~40 ms on Nagle's algorithm and the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    config = ServeConfig(**options_from(args, ServeConfig))
    try:
        import uvicorn  # noqa: F401 - the serve extra: checked here, used by make_server

        from envfoundry.serve.service import Service
    except ImportError as exc:
        raise UsageError(f"the service needs the serve extra (pip install -e '.[serve]'): {exc}") from None
    # A bad setting or spec, an unreadable state directory, an environment the sandbox refuses.
    with as_usage_errors(ValueError, TypeError, ImportError, sandbox="an environment in --envs cannot run in the sandbox"):
        service = Service(config)
    try:
        sock = bind_socket(config.host, config.port)
    except UsageError:
        service.close()
        raise
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    auth = "bearer token required" if service.token else "no token (loopback only)"
    print(f"envfoundry serve: {len(service.names)} environments at {url} ({auth}); OpenRLHF: --remote_rm_url "
          f"{url}/get_reward; Ctrl-C stops", flush=True)  # fmt: skip
    make_server(service).run(sockets=[sock])
    return 0


def make_server(service: Any) -> Any:
    """The uvicorn server of ``service`` (its ``run(sockets=[...])`` serves until stopped)."""
    import uvicorn

    from envfoundry.serve.app import create_app

    config = service.config
    return uvicorn.Server(uvicorn.Config(
        create_app(service), log_level="warning", access_log=False, timeout_keep_alive=30,
        limit_concurrency=max(MIN_CONNECTIONS, config.max_inflight + config.max_queue)))  # fmt: skip


def add_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="the reward and instance service over HTTP (OpenRLHF's /get_reward, "
                                     "sampling, scoring, curriculum sessions)",
                       description="Serve environments over HTTP: POST /sample, /score, /get_reward (OpenRLHF's "
                                   "remote reward API), /curriculum/next|report|step; GET /health, /metrics, /envs. "
                                   f"Bound anywhere but loopback it needs a token (--token or {TOKEN_ENV}).")  # fmt: skip
    add_options(p, ServeConfig)
    p.set_defaults(func=cmd_serve)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry serve`")
