"""The reward and instance service through FastAPI's test client (real app, real environments):
sampling, scoring, OpenRLHF's /get_reward, errors, authentication, limits and metrics."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra")
from fastapi.testclient import TestClient  # noqa: E402

import envfoundry  # noqa: E402
from envfoundry.cli.main import main  # noqa: E402
from envfoundry.serve.app import create_app  # noqa: E402
from envfoundry.serve.config import TOKEN_ENV, ServeConfig, is_loopback  # noqa: E402
from envfoundry.serve.limits import Limiter, Overloaded  # noqa: E402
from envfoundry.serve.openrlhf import response_text  # noqa: E402
from envfoundry.serve.service import FRESH_SEED_BASE, Service  # noqa: E402

ENVS = "knapsack,countdown,planted_subset_sum"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Service(ServeConfig(envs=ENVS, max_batch=64, max_body_mb=0.25)))) as client:
        yield client


@pytest.fixture(scope="module")
def knapsack_batch(client):
    """Four knapsack instances from the service, with their labels and references."""
    reply = client.post("/sample", json={"env": "knapsack", "seeds": [5, 6, 7, 8], "level": 0.4})
    assert reply.status_code == 200
    instances = reply.json()["instances"]
    return [(item, json.loads(item["label"])["reference"]) for item in instances]


def answer(text: str) -> str:
    return f"Reasoning first.\n<answer>{text}</answer>"


def test_sample_gives_the_library_instances_with_their_labels(client, knapsack_batch):
    local = envfoundry.make("knapsack")
    for (item, _), seed in zip(knapsack_batch, [5, 6, 7, 8], strict=True):
        expected = local.sample(seed, level=0.4)
        assert item["prompt"] == expected.prompt and item["seed"] == seed and item["level"] == 0.4
        # The label is the instance's own JSON: what `envfoundry export` writes as verl's ground truth.
        assert item["label"] == expected.to_json()
    with_params = client.post("/sample", json={"env": "countdown", "seeds": [1], "params": {"n_numbers": 4}}).json()
    assert with_params["instances"][0]["params"]["n_numbers"] == 4 and with_params["version"] == 1


def test_n_hands_out_fresh_seeds_that_never_repeat(client):
    first = client.post("/sample", json={"env": "countdown", "n": 3}).json()["instances"]
    second = client.post("/sample", json={"env": "countdown", "n": 2}).json()["instances"]
    seeds = [item["seed"] for item in first + second]
    assert seeds == list(range(FRESH_SEED_BASE, FRESH_SEED_BASE + 5))


def test_score_rewards_right_answers_only(client, knapsack_batch):
    labels = [item["label"] for item, _ in knapsack_batch]
    responses = [answer(knapsack_batch[0][1]), answer("1 1 1"), "no answer block", answer(knapsack_batch[3][1])]
    reply = client.post("/score", json={"labels": labels, "responses": responses, "detail": True}).json()
    assert reply["rewards"][0] == 1.0 and reply["rewards"][3] == 1.0
    assert reply["rewards"][1] == 0.0 and reply["rewards"][2] == 0.0
    assert reply["correct"] == [True, False, False, True] and reply["format_ok"] == [True, True, False, True]
    assert "more than once" in reply["verdicts"][1]["reason"] and reply["verdicts"][2]["answer"] is None
    # Instances as objects, and bare answers.
    objects = [json.loads(label) for label in labels[:2]]
    bare = client.post("/score", json={"instances": objects, "responses": [knapsack_batch[0][1], "2"],
                                       "bare": True}).json()  # fmt: skip
    assert bare["correct"][0] and "verdicts" not in bare


def test_get_reward_answers_openrlhf_with_rewards_scores_and_per_sample_logs(client, knapsack_batch):
    template = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    prompts = [template.format(item["prompt"]) for item, _ in knapsack_batch]
    responses = [answer(knapsack_batch[0][1]), "I am not sure.", answer("2"), answer(knapsack_batch[3][1])]
    payload = {"query": [p + r + "<|im_end|>" for p, r in zip(prompts, responses, strict=True)], "prompts": prompts,
               "labels": [item["label"] for item, _ in knapsack_batch], "datasources": ["envfoundry"] * 4}  # fmt: skip
    reply = client.post("/get_reward", json=payload).json()
    assert reply["rewards"] == reply["scores"]
    assert [r == 1.0 for r in reply["rewards"]] == [True, False, False, True]
    # The prompt shows an example answer block; the response without one must not be read through it.
    assert reply["extra_logs"] == {"correct": [1.0, 0.0, 0.0, 1.0], "format_ok": [1.0, 0.0, 1.0, 1.0]}


def test_the_response_is_cut_after_the_prompt():
    prompt = "Solve. For example <answer>7</answer>."
    assert response_text("SYS " + prompt + " mine", "SYS " + prompt, prompt) == " mine"
    # A tokenizer round trip may change the templated prompt: the instance's own prompt still cuts.
    assert response_text("sys\n" + prompt + "\nassistant: <answer>3</answer>", "sys  " + prompt, prompt) == (
        "\nassistant: <answer>3</answer>")  # fmt: skip
    # A response that repeats the task is cut at the first copy, so its answer survives.
    assert response_text(prompt + "<answer>4</answer> " + prompt, None, prompt).startswith("<answer>4</answer>")


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/score", b"\xff\xfe{", 400, "not valid JSON"),
    ("/score", b"[1, 2]", 400, "must be a JSON object, got an array"),
    ("/score", b"", 400, "body is empty"),
    ("/score", {"labels": ["x"], "responses": [3]}, 400, "'responses[0]' must be a string, got a number"),
    ("/score", {"labels": ["{}"], "responses": ["a"]}, 400, "'labels[0]' is not a valid instance: instance is missing"),
    ("/score", {"labels": [1], "responses": ["a"]}, 400, "'labels[0]' must be an instance"),
    ("/score", {"labels": ["a", "b"], "responses": ["a"]}, 400, "got 2 labels but 1 responses"),
    ("/score", {"responses": ["a"]}, 400, "exactly one of 'labels'"),
    ("/sample", {"env": "no_such_env", "n": 1}, 400, "unknown environment 'no_such_env': this server serves countdown"),
    ("/sample", {"env": "tests/synth/corpus/static_import_os.py", "n": 1}, 400, "unknown environment"),
    ("/sample", {"env": "knapsack", "n": 1, "seeds": [1]}, 400, "exactly one of 'seeds'"),
    ("/sample", {"env": "knapsack", "seeds": [True]}, 400, "'seeds[0]' must be an integer, got a boolean"),
    ("/sample", {"env": "knapsack", "n": 1, "level": "hard"}, 400, "'level' must be a number, got a string"),
    ("/sample", {"env": "knapsack", "n": 1, "params": {"items": 999}}, 400, "parameter 'items' must be in [4, 30]"),
    ("/sample", {"env": "knapsack", "n": 65}, 400, "'n' must be in 1..64"),
    ("/sample", {"env": "knapsack", "n": 1, "typo": 1}, 400, "unknown field 'typo'"),
    ("/get_reward", {"query": ["q"], "prompts": ["p"]}, 400, "'labels' is required"),
    ("/get_reward", {"query": ["q", "r"], "labels": ["x"]}, 400, "got 2 queries, 1 labels"),
    ("/curriculum/next", {"groups": 0}, 400, "'groups' must be in 1..64"),
    ("/curriculum/next", {"groups": 1, "session": "../etc"}, 400, "'session' must be 1-64 letters"),
    ("/curriculum/step", {"session": "nobody"}, 404, "no curriculum session 'nobody'"),
    ("/nowhere", {}, 404, "no such endpoint: /nowhere"),
])  # fmt: skip
def test_malformed_requests_get_one_sentence_and_a_4xx(client, path, body, status, message):
    reply = client.post(path, content=body) if isinstance(body, bytes) else client.post(path, json=body)
    assert reply.status_code == status
    assert set(reply.json()) == {"error"} and message in reply.json()["error"]
    assert "\n" not in reply.json()["error"]


def test_forged_labels_are_checked_and_never_open_anything(client, knapsack_batch):
    instance = json.loads(knapsack_batch[0][0]["label"])
    for forged, message in [
        ({**instance, "env": "/etc/passwd"}, "unknown environment '/etc/passwd'"),
        ({**instance, "version": 99}, "version 99 of 'knapsack', but this server has version"),
    ]:
        reply = client.post("/score", json={"labels": [json.dumps(forged)], "responses": ["<answer>1</answer>"]})
        assert reply.status_code == 400 and message in reply.json()["error"]
    # A state the verifier cannot read scores 0 with a reason; it is never a server error.
    broken = client.post("/score", json={"instances": [{**instance, "state": {}}], "responses": [answer("1")],
                                         "detail": True}).json()  # fmt: skip
    assert broken["rewards"] == [0.0] and "verify raised" in broken["verdicts"][0]["reason"]


def test_wrong_methods_and_limits(client, knapsack_batch):
    assert client.get("/score").status_code == 405 and "GET is not allowed" in client.get("/score").json()["error"]
    too_big = client.post("/score", content=b"{" + b" " * 300_000 + b"}")
    assert too_big.status_code == 413 and "larger than the limit of 262,144 bytes" in too_big.json()["error"]
    label = knapsack_batch[0][0]["label"]
    over = client.post("/score", json={"labels": [label] * 65, "responses": ["a"] * 65})
    assert over.status_code == 400 and "more than this server's limit of 64 per request" in over.json()["error"]


def test_at_capacity_the_server_answers_503_with_retry_after(client):
    limiter = client.app.state.limiter
    limiter.running = limiter.slots + limiter.backlog  # every slot taken, the backlog full
    try:
        reply = client.post("/score", json={"labels": ["x"], "responses": ["y"]})
        health = client.get("/health")
    finally:
        limiter.running = 0
    assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
    assert "at capacity" in reply.json()["error"]
    assert health.status_code == 200  # liveness is never refused


def test_the_limiter_admits_slots_plus_backlog_and_refuses_the_rest():
    async def scenario() -> tuple[int, int]:
        limiter = Limiter(slots=1, backlog=1)
        release = asyncio.Event()
        refused = 0

        async def hold() -> None:
            async with limiter.slot():
                await release.wait()

        holders = [asyncio.ensure_future(hold()) for _ in range(2)]  # one runs, one waits
        await asyncio.sleep(0)
        for _ in range(3):
            try:
                async with limiter.slot():
                    pass
            except Overloaded:
                refused += 1
        release.set()
        await asyncio.gather(*holders)
        async with limiter.slot():  # free again
            pass
        return refused, limiter.running + limiter.waiting

    assert asyncio.run(scenario()) == (3, 0)


def test_metrics_count_requests_scores_and_latency(client, knapsack_batch):
    before = client.get("/metrics").text
    label = knapsack_batch[1][0]["label"]
    client.post("/score", json={"labels": [label, label], "responses": [answer(knapsack_batch[1][1]), "x"]})
    text = client.get("/metrics").text

    def value(pattern: str, source: str) -> float:
        found = re.search(re.escape(pattern) + r" ([0-9.e+-]+)", source)
        return float(found.group(1)) if found else 0.0

    for name, grew in [('envfoundry_requests_total{endpoint="/score",status="200"}', 1),
                       ('envfoundry_scores_total{env="knapsack"}', 2),
                       ('envfoundry_correct_total{env="knapsack"}', 1),
                       ('envfoundry_reward_sum{env="knapsack"}', 1.0),
                       ('envfoundry_request_seconds_count{endpoint="/score"}', 1)]:  # fmt: skip
        assert value(name, text) - value(name, before) == grew, name
    assert "# TYPE envfoundry_request_seconds histogram" in text and 'le="+Inf"' in text
    assert 'envfoundry_requests_total{endpoint="other",status="404"}' in text  # unknown paths share one label


def test_a_token_guards_everything_but_health(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with TestClient(create_app(Service(ServeConfig(envs="countdown", token=TOKEN)))) as guarded:
        assert guarded.get("/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            reply = guarded.post("/sample", json={"env": "countdown", "n": 1}, headers=headers)
            assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
            assert "bearer token" in reply.json()["error"]
        assert guarded.get("/metrics").status_code == 401
        ok = guarded.post("/sample", json={"env": "countdown", "n": 1}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_a_token_is_required_off_loopback(monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("myhost")
    assert main(["serve", "--host", "0.0.0.0", "--envs", "countdown"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("envfoundry: error: refusing to serve on 0.0.0.0 without a token") and "\n" not in err
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = ServeConfig(host="0.0.0.0")
    config.check()  # the environment variable is a token too
    assert config.resolved_token() == TOKEN
    assert main(["serve", "--envs", "no_such_env"]) == 2
    assert "unknown environment 'no_such_env'" in capsys.readouterr().err


def test_the_service_starts_without_the_training_stack():
    code = ("import sys, envfoundry.cli.main, envfoundry.serve.app, envfoundry.serve.client; "
            "heavy = [m for m in ('torch', 'transformers', 'trl') if m in sys.modules]; print(heavy)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
