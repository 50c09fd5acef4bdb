"""OpenAIChat against a real local HTTP server that speaks the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from envfoundry.llm import Completion, LLMError, OpenAIChat, make_chat_model

KEY = "sk-test-secret-0123456789"


class FakeServer(ThreadingHTTPServer):
    """Canned completions that echo the last user message; can fail, stall or refuse on demand."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.failures: list[tuple[int, dict[str, str]]] = []  # (status, headers) to answer before succeeding
        self.stall_first_s = 0.0  # the first request sleeps this long before answering
        self.delay_s = 0.0  # every successful answer takes this long
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []  # {"path", "headers", "body"} per request
        self.omit_usage = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: object) -> None:  # silence the default stderr logging
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def do_POST(self) -> None:
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with server.lock:
            first = not server.requests
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            failure = server.failures.pop(0) if server.failures else None
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            if first and server.stall_first_s:
                time.sleep(server.stall_first_s)
            if failure is not None:
                status, headers = failure
                self._send(status, {"error": {"message": f"simulated failure {status}", "type": "test"}}, headers)
                return
            last = body["messages"][-1]["content"]
            if last == "bad request":
                self._send(400, {"object": "error", "message": "max_tokens is too large for this model.", "code": 400})
                return
            time.sleep(server.delay_s)
            payload = {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": f"echo: {last}"}, "finish_reason": "stop"}
                ],
            }
            if not server.omit_usage:
                payload["usage"] = {"prompt_tokens": len(last.split()) + 10, "completion_tokens": 3, "total_tokens": 0}
            self._send(200, payload)
        finally:
            with server.lock:
                server.in_flight -= 1


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def client(server: FakeServer, **kwargs) -> OpenAIChat:
    options = {"max_retries": 3, "backoff_s": 0.001, "timeout_s": 5}
    options.update(kwargs)
    return OpenAIChat(server.base_url, "test-model", **options)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def test_chat_sends_openai_request_with_key_from_env_and_accounts_usage(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    model = client(server, api_key_env="TEST_LLM_KEY")
    reply = model.chat(user("hello there"), max_tokens=7, temperature=0.0, top_p=0.9, stop=["\n\n"], seed=3)
    assert reply == Completion("echo: hello there", 12, 3, "stop")
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body["model"] == "test-model"
    assert body["messages"] == user("hello there")
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["stop"], body["seed"]) == (
        7,
        0.0,
        0.9,
        ["\n\n"],
        3,
    )
    usage = model.usage.to_dict()
    assert usage["requests"] == 1 and usage["prompt_tokens"] == 12 and usage["completion_tokens"] == 3
    assert usage["failures"] == 0 and usage["retries"] == 0 and usage["seconds"] >= 0
    assert KEY not in repr(model)


def test_no_key_means_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    client(server, api_key_env="TEST_LLM_KEY").chat(user("hi"))
    assert "Authorization" not in server.requests[0]["headers"]


def test_missing_usage_counts_zero_tokens(server):
    server.omit_usage = True
    model = client(server)
    reply = model.chat(user("hi"))
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("echo: hi", 0, 0)
    assert model.usage.requests == 1


def test_503_and_429_are_retried_then_succeed(server):
    server.failures = [(503, {}), (429, {"Retry-After": "0"}), (502, {})]
    model = client(server, max_retries=3)
    assert model.chat(user("persist")).text == "echo: persist"
    assert len(server.requests) == 4
    assert model.usage.retries == 3 and model.usage.failures == 0


def test_retry_after_is_respected(server):
    server.failures = [(429, {"Retry-After": "1"})]
    model = client(server, backoff_s=0.0)
    start = time.perf_counter()
    model.chat(user("wait"))
    assert time.perf_counter() - start >= 0.9
    assert len(server.requests) == 2


def test_retries_exhausted_raise_one_clear_error(server):
    server.failures = [(503, {})] * 10
    model = client(server, max_retries=2)
    with pytest.raises(LLMError) as info:
        model.chat(user("doomed"))
    assert len(server.requests) == 3
    message = str(info.value)
    assert "after 3 attempts" in message and "HTTP 503" in message and "simulated failure 503" in message
    assert info.value.status == 503 and info.value.retryable
    assert model.usage.failures == 1 and model.usage.requests == 1


def test_400_is_not_retried_and_carries_the_server_message(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    model = client(server)
    with pytest.raises(LLMError) as info:
        model.chat(user("bad request"))
    assert len(server.requests) == 1
    message = str(info.value)
    assert "HTTP 400" in message and "max_tokens is too large for this model." in message
    assert "\n" not in message and KEY not in message
    assert info.value.status == 400 and not info.value.retryable


def test_404_path_is_not_retried(server):
    model = OpenAIChat(server.base_url.removesuffix("/v1"), "m", max_retries=3, backoff_s=0.001)
    with pytest.raises(LLMError, match="HTTP 404: no route /chat/completions"):
        model.chat(user("hi"))
    assert len(server.requests) == 1


def test_timeout_is_retried(server):
    server.stall_first_s = 1.0
    model = client(server, timeout_s=0.3)
    assert model.chat(user("slow start")).text == "echo: slow start"
    assert len(server.requests) == 2 and model.usage.retries == 1


def test_dead_port_gives_llm_error_after_retries():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAIChat(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_s=0.001, timeout_s=2)
    start = time.perf_counter()
    with pytest.raises(LLMError, match=r"failed after 3 attempts; last error: .*refused"):
        model.chat(user("anyone?"))
    assert time.perf_counter() - start < 5
    assert model.usage.failures == 1 and model.usage.retries == 2


def test_chat_many_runs_concurrently_and_keeps_order(server):
    server.delay_s = 0.3
    model = client(server, concurrency=8)
    conversations = [user(f"question {i}") for i in range(8)]
    start = time.perf_counter()
    results = model.chat_many(conversations, max_tokens=5)
    elapsed = time.perf_counter() - start
    assert [r.text for r in results] == [f"echo: question {i}" for i in range(8)]
    assert server.max_in_flight >= 4  # sequentially this would be 1
    assert elapsed < 8 * 0.3
    assert model.usage.requests == 8 and model.usage.completion_tokens == 24


def test_chat_many_returns_failures_in_place(server):
    model = client(server, concurrency=3)
    results = model.chat_many([user("a"), user("bad request"), user("c"), [{"role": "narrator", "content": "x"}]])
    assert results[0].text == "echo: a" and results[2].text == "echo: c"
    assert isinstance(results[1], LLMError) and "HTTP 400" in str(results[1])
    assert isinstance(results[3], LLMError) and "role 'narrator'" in str(results[3])
    assert model.usage.failures == 2 and model.usage.requests == 4


def test_base_url_validation_and_factory(server):
    with pytest.raises(ValueError, match="http:// or https://"):
        OpenAIChat("localhost:8000/v1", "m")
    with pytest.raises(ValueError, match="model"):
        make_chat_model(server.base_url)
    model = make_chat_model(server.base_url + "/", "test-model", max_retries=0)
    assert isinstance(model, OpenAIChat) and model.url == server.base_url + "/chat/completions"
    assert model.chat(user("via factory")).text == "echo: via factory"
    with pytest.raises(ValueError, match="Unknown chat model spec"):
        make_chat_model("ftp://example.org")
