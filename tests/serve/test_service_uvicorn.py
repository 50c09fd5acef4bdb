"""The service on a real uvicorn, on 127.0.0.1 at a free port, hit by a real HTTP client: OpenRLHF's
request shape, the token, and an untrusted environment file scored in its sandbox's worker process."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the service needs the serve extra")
import httpx  # noqa: E402

from envfoundry.cli.serve import bind_socket, make_server  # noqa: E402
from envfoundry.sandbox import isolation  # noqa: E402
from envfoundry.serve.client import RewardClient, ServiceError, TrlReward, verl_compute_score  # noqa: E402
from envfoundry.serve.config import ServeConfig  # noqa: E402
from envfoundry.serve.service import Service  # noqa: E402

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
UNTRUSTED = CORPUS / "admitted_base_conversion.py"
TOKEN = "tok-123"
CHAT = "<|im_start|>system\nSolve the task.<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def _sandbox_usable() -> None:
    found = isolation._detect()
    if found.kind != "bubblewrap":
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the sandbox under bubblewrap, but {found.weaker_because}")
        pytest.skip(f"bubblewrap is not usable here: {found.weaker_because}")


@pytest.fixture(scope="module")
def server():
    """``(base URL, service)`` of a live server over knapsack and the untrusted file, token required."""
    _sandbox_usable()
    service = Service(ServeConfig(envs=f"knapsack,{UNTRUSTED}", token=TOKEN))
    sock = bind_socket("127.0.0.1", 0)
    uvicorn_server = make_server(service)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", service
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not any(entry.is_open for name, entry in service.pool.envs.items() if entry.origin == "file")


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        yield client


def test_openrlhf_posts_its_batch_and_reads_rewards(server, http):
    url, service = server
    instances = http.post("/sample", json={"env": "knapsack", "seeds": [1, 2], "level": 0.2}).json()["instances"]
    references = [json.loads(item["label"])["reference"] for item in instances]
    # What OpenRLHF sends for n_samples_per_prompt=2: each prompt twice, query = templated prompt + response.
    prompts = [CHAT.format(item["prompt"]) for item in instances for _ in range(2)]
    labels = [item["label"] for item in instances for _ in range(2)]
    responses = [f"<answer>{references[0]}</answer>", "pass", "<answer>1</answer>", f"<answer>{references[1]}</answer>"]
    queries = [p + r + "<|im_end|>" for p, r in zip(prompts, responses, strict=True)]
    reply = httpx.post(f"{url}/get_reward", json={"query": queries, "prompts": prompts, "labels": labels},
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)  # fmt: skip
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["rewards"] == body["scores"] and len(body["rewards"]) == 4
    assert [r == 1.0 for r in body["rewards"]] == [True, False, False, True]
    assert body["extra_logs"]["format_ok"] == [1.0, 0.0, 1.0, 1.0]
    # Without the token nothing but /health answers.
    assert httpx.post(f"{url}/get_reward", json={"query": queries}, timeout=60).status_code == 401
    assert httpx.get(f"{url}/health", timeout=60).json()["status"] == "ok"


def test_an_untrusted_file_is_sampled_and_scored_in_its_sandbox(server, http):
    _, service = server
    sampled = http.post("/sample", json={"env": "base_conversion", "seeds": [3, 4], "level": 0.5})
    assert sampled.status_code == 200
    instances = sampled.json()["instances"]
    labels = [item["label"] for item in instances]
    responses = [f"<answer>{json.loads(labels[0])['reference']}</answer>", "<answer>not a number</answer>"]
    scored = http.post("/score", json={"labels": labels, "responses": responses, "detail": True}).json()
    assert scored["correct"] == [True, False]
    entry = service.pool.envs["base_conversion"]
    assert entry.origin == "file" and type(entry.env).__name__ == "SandboxedEnvironment"
    pids = entry.env.worker_pids()
    assert pids and os.getpid() not in pids  # its code ran in a worker process, never in the server


def test_the_stdlib_clients_for_trl_and_verl(server, monkeypatch):
    url, _ = server
    client = RewardClient(url, TOKEN)
    instances = client.sample("knapsack", n=2, level=0.1)
    labels = [item["label"] for item in instances]
    right = f"<answer>{json.loads(labels[1])['reference']}</answer>"
    assert client.score(labels, ["<answer>1</answer>", right])[1] == 1.0
    trl = TrlReward(url, TOKEN)
    completions = [[{"role": "assistant", "content": "no"}], [{"role": "assistant", "content": right}]]
    assert trl(prompts=["p", "p"], completions=completions, label=labels) == [0.0, 1.0]
    monkeypatch.setenv("ENVFOUNDRY_SERVE_URL", url)
    monkeypatch.setenv("ENVFOUNDRY_SERVE_TOKEN", TOKEN)
    assert verl_compute_score(["envfoundry"] * 2, ["x", right], labels, [{}, {}]) == [0.0, 1.0]
    with pytest.raises(ServiceError, match="unknown environment 'nope'") as refused:
        client.sample("nope", n=1)
    assert refused.value.status == 400
