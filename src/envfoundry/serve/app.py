"""The reward and instance service as a FastAPI app: ``create_app(service)``.

* ``GET /health``: liveness (no token needed); ``GET /metrics``: Prometheus text; ``GET /envs``: the
  environments served.
* ``POST /sample``: ``{"env", "seeds" | "n", "level"?, "params"?}`` -> instances with ``prompt`` and ``label``.
* ``POST /score``: ``{"labels" | "instances", "responses", "bare"?, "detail"?}`` -> ``rewards``, ``correct``, ...
* ``POST /get_reward``: OpenRLHF's remote reward API (``openrlhf.py``).
* ``POST /curriculum/next``: ``{"session"?, "groups"}`` -> GRPO groups from the session's curriculum;
  ``POST /curriculum/report``: ``{"session"?, "results": [{"group_id", "rewards" | "responses"}], "end_step"?}``;
  ``POST /curriculum/step``: ``{"session"?}`` -> the step's statistics (levels move);
  ``GET /curriculum?session=NAME``: the session's levels and active set (``sessions.py``).

Every refusal is ``{"error": "<one sentence>"}``. Bad input is a 4xx, never a 5xx: 400 bad input,
401 no or wrong token, 404 unknown path or session, 405 wrong method, 413 body too large, 422 an
environment that failed to sample, 429 too many sessions. 503 is the server's state: at capacity
(with ``Retry-After``), or an environment whose sandbox cannot start. A 500 means a bug in the server.

Work runs in a bounded thread pool behind a ``Limiter`` (``limits.py``); the event loop only reads
bodies and writes answers, so ``/health`` and ``/metrics`` answer even while every thread is busy.
Authentication, the overload check and request metrics are one plain ASGI middleware.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from envfoundry.errors import EnvfoundryError
from envfoundry.serve import openrlhf
from envfoundry.serve.limits import Limiter, Overloaded, read_body
from envfoundry.serve.metrics import CONTENT_TYPE
from envfoundry.serve.payloads import parse_object
from envfoundry.serve.service import Service

log = logging.getLogger("envfoundry.serve")
OPEN_PATHS = frozenset({"/health"})  # answered without a token (liveness probes)
MAX_ERROR_CHARS = 400


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    message = message.strip().splitlines()[0] if message.strip() else "error"
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return json_response({"error": message}, status, headers)


class ServiceMiddleware:
    """Bearer-token check (all paths but ``/health``), the overload check of work requests, and
    request metrics, as plain ASGI.

    The overload check runs here, before routing and before the body is read: under overload most
    requests are refused, and a refusal that costs little leaves the CPU to the requests admitted.
    """

    def __init__(self, app: Any, service: Service, limiter: Limiter, work_paths: frozenset[str]) -> None:
        self.app = app
        self.service = service
        self.limiter = limiter
        self.work_paths = work_paths
        self.expected = f"Bearer {service.token}".encode() if service.token else None

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.expected is not None and scope["path"] not in OPEN_PATHS and not self._authorized(scope):
                reply = error_response(401, "missing or wrong bearer token: send the header 'Authorization: "
                                            "Bearer <token>' with the server's token",
                                       {"WWW-Authenticate": "Bearer"})  # fmt: skip
                await reply(scope, receive, send_and_note)
                return
            if scope["path"] in self.work_paths and scope["method"] == "POST":
                try:
                    self.limiter.check()
                except Overloaded as exc:
                    await error_response(503, str(exc), {"Retry-After": str(exc.retry_after_s)})(
                        scope, receive, send_and_note)  # fmt: skip
                    return
            await self.app(scope, receive, send_and_note)
        finally:
            metrics = self.service.metrics
            metrics.observe_request(metrics.endpoint(scope["path"]), status, time.perf_counter() - started)

    def _authorized(self, scope: dict[str, Any]) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self.expected)
        return False


def create_app(service: Service) -> FastAPI:
    """The FastAPI app serving ``service``; closing the app (lifespan end) stops its sandboxes."""
    config = service.config
    limiter = Limiter(config.max_inflight, config.max_queue)
    executor = ThreadPoolExecutor(max_workers=config.max_inflight, thread_name_prefix="envfoundry-serve")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        try:
            yield
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            service.close()

    app = FastAPI(title="envfoundry", summary="Verifiable reasoning environments: instances and rewards",
                  lifespan=lifespan)  # fmt: skip
    app.state.service = service
    app.state.limiter = limiter
    service.metrics.add_gauges(lambda: [
        ("envfoundry_requests_running", "Requests being worked on", {}, limiter.running),
        ("envfoundry_requests_waiting", "Requests waiting for a thread", {}, limiter.waiting),
        ("envfoundry_environments", "Environments served", {}, len(service.names)),
    ])  # fmt: skip

    async def run(request: Request, work: Callable[[dict[str, Any]], Any], known: tuple[str, ...] | None) -> Response:
        """Read the body, take a slot, parse and work in a thread; the answer is serialised there too."""
        try:
            body = await read_body(request.stream(), request.headers.get("content-length"), config.max_body_bytes)
        except ClientDisconnect:  # nobody is left to answer; noted as nginx's 499
            return Response(status_code=499)

        def job() -> bytes:
            return orjson.dumps(work(parse_object(body, known)))

        async with limiter.slot():
            content = await asyncio.get_running_loop().run_in_executor(executor, job)
        return Response(content, media_type="application/json")

    def endpoint(work: Callable[[dict[str, Any]], Any],
                 known: tuple[str, ...] | None) -> Callable[[Request], Awaitable[Response]]:  # fmt: skip
        async def handle(request: Request) -> Response:
            return await run(request, work, known)

        return handle

    app.add_api_route("/sample", endpoint(service.sample, ("env", "seeds", "n", "level", "params")),
                      methods=["POST"], summary="Sample instances (prompt and label)")  # fmt: skip
    app.add_api_route("/score", endpoint(service.score, ("labels", "instances", "responses", "bare", "detail")),
                      methods=["POST"], summary="Score responses to labelled instances")  # fmt: skip
    app.add_api_route("/get_reward", endpoint(lambda data: openrlhf.get_reward(service, data), None),
                      methods=["POST"], summary="OpenRLHF's remote reward API")  # fmt: skip
    app.add_api_route("/curriculum/next", endpoint(service.curriculum_next, ("session", "groups")),
                      methods=["POST"], summary="The next GRPO groups of a curriculum session")  # fmt: skip
    app.add_api_route("/curriculum/report", endpoint(service.curriculum_report, ("session", "results", "end_step")),
                      methods=["POST"], summary="Report groups' rewards or responses")  # fmt: skip
    app.add_api_route("/curriculum/step", endpoint(service.curriculum_step, ("session",)),
                      methods=["POST"], summary="Close a curriculum step: levels move")  # fmt: skip

    @app.get("/curriculum", summary="A curriculum session's levels and active set")
    async def curriculum_state(session: str = "default") -> Response:
        # In a thread: it waits for the session's lock, which a long report may hold.
        async with limiter.slot():
            content = await asyncio.get_running_loop().run_in_executor(
                executor, lambda: orjson.dumps(service.curriculum_state(session))
            )
        return Response(content, media_type="application/json")

    @app.get("/health", summary="Liveness")
    async def health() -> Response:
        return json_response({"status": "ok", "environments": len(service.names),
                              "sessions": len(service.sessions.names()), "running": limiter.running,
                              "waiting": limiter.waiting,
                              "uptime_s": round(time.time() - service.metrics.started, 3)})  # fmt: skip

    @app.get("/envs", summary="The environments served")
    async def envs() -> Response:
        return json_response({"environments": service.describe_envs()})

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> Response:
        return error_response(503, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(EnvfoundryError)
    async def refused(request: Request, exc: EnvfoundryError) -> Response:
        # Bad input is a ValueError; anything else the package raised on purpose is the server's failure.
        status = getattr(exc, "status", None) or (400 if isinstance(exc, ValueError) else 500)
        return error_response(status, str(exc) or type(exc).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: f"no such endpoint: {request.url.path} (see /docs)",
                    405: f"{request.method} is not allowed on {request.url.path}"}  # fmt: skip
        return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); this is a bug in the server")

    work_paths = frozenset(route.path for route in app.routes if "POST" in getattr(route, "methods", ()))
    app.add_middleware(ServiceMiddleware, service=service, limiter=limiter, work_paths=work_paths)
    return app
