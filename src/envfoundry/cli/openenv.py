"""``envfoundry serve-openenv``: one environment behind OpenEnv's reset / step / state protocol
(``envfoundry.serve.openenv``), for OpenEnv clients and TRL's OpenEnv integration."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors


def cmd_serve_openenv(args: argparse.Namespace) -> int:
    try:
        from envfoundry.serve.openenv import OpenEnvServer
    except ImportError as exc:
        raise UsageError(f"serve-openenv needs the serve extra (pip install -e '.[serve]'): {exc}") from None
    # An unknown environment, a bad level, a port in use, an environment the sandbox refuses.
    with as_usage_errors(ValueError, TypeError, ImportError, sandbox=f"cannot run '{args.env}' in the sandbox"):
        server = OpenEnvServer(args.env, host=args.host, port=args.port, level=args.level,
                               first_seed=args.first_seed, max_sessions=args.max_sessions)  # fmt: skip
    level = "the environment's default level" if args.level is None else f"level {args.level:g}"
    sessions = "ws" + server.url[len("http") :] + "/ws"
    print(f"serving {server.env.name} over OpenEnv at {server.url} (sessions on {sessions}; {level}; seeds from "
          f"{args.first_seed} unless a reset names one); Ctrl-C stops", flush=True)  # fmt: skip
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn shuts down gracefully on Ctrl-C, then passes the interrupt on
        pass
    print(f"stopped serving {server.env.name}")
    return 0


def add_commands(sub: Any) -> None:
    from envfoundry.curriculum.curriculum import TRAIN_SEED_BASE

    # The serve module imports openenv-core, FastAPI and uvicorn: its defaults are restated here
    # so that building the parser stays cheap (tests/serve/test_openenv.py checks they agree).
    p = sub.add_parser("serve-openenv", help="serve one environment over OpenEnv's protocol (reset/step/state)",
                       description="Serve an environment to OpenEnv clients (EnvfoundryEnv, TRL's OpenEnv "
                                   "integration): reset samples an instance and returns its prompt, step scores "
                                   "the response (reward, done, verdict), state names the instance.")  # fmt: skip
    p.add_argument("--env", required=True, metavar="SPEC",
                   help="a registered name, rg:NAME, an archived name or a path to an environment file "
                        "(files and archived environments run in the sandbox)")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 takes a free one)")
    p.add_argument("--level", type=float, default=None, metavar="L",
                   help="default difficulty in [0, 1] (a reset may ask for another; default: the environment's, 0.5)")  # fmt: skip
    p.add_argument("--first-seed", type=int, default=TRAIN_SEED_BASE, metavar="S",
                   help="first seed of resets that name none, counting up (default: %(default)s, above the "
                        "held-out seeds `envfoundry eval` uses)")  # fmt: skip
    p.add_argument("--max-sessions", type=int, default=512, metavar="N",
                   help="concurrent client sessions (default: %(default)s)")  # fmt: skip
    p.set_defaults(func=cmd_serve_openenv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry serve-openenv`")
