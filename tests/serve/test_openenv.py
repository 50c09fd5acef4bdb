"""The OpenEnv server (``envfoundry.serve.openenv``), driven by OpenEnv's own client classes: a real
uvicorn server on an ephemeral port, our ``EnvClient`` subclass over its WebSocket sessions, plain
HTTP for the stateless endpoints, and the ``serve-openenv`` command."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("openenv", reason="needs openenv-core (the serve extra)")

import httpx  # noqa: E402

import envfoundry  # noqa: E402
from envfoundry.cli.main import main  # noqa: E402
from envfoundry.curriculum import TRAIN_SEED_BASE  # noqa: E402
from envfoundry.serve.openenv import (  # noqa: E402
    DEFAULT_MAX_SESSIONS,
    DEFAULT_PORT,
    EnvfoundryAction,
    EnvfoundryEnv,
    EnvfoundryObservation,
    OpenEnvServer,
)

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
LEVEL = 0.3


def answer(text: str) -> str:
    return f"Let me think.\n<answer>{text}</answer>"


@pytest.fixture(scope="module")
def knapsack():
    """The seed environment the server serves, made here too, to know each instance's reference."""
    return envfoundry.make("knapsack")


@pytest.fixture(scope="module")
def server():
    with OpenEnvServer("knapsack", port=0, level=LEVEL, first_seed=500) as running:
        yield running


@pytest.fixture
def env(server):
    with EnvfoundryEnv(base_url=server.url).sync() as client:
        yield client


def test_reset_gives_the_prompt_and_the_reference_answer_earns_full_reward(env, knapsack):
    expected = knapsack.sample(7, level=LEVEL)
    result = env.reset(seed=7)
    observation = result.observation
    assert isinstance(observation, EnvfoundryObservation)
    assert (result.done, result.reward) == (False, None)
    assert observation.prompt == expected.prompt and "<answer>" in observation.prompt
    assert (observation.env, observation.seed, observation.level, observation.params) == (
        "knapsack",
        7,
        LEVEL,
        expected.params,
    )
    assert observation.correct is None and observation.reason == ""

    result = env.step(EnvfoundryAction(response=answer(expected.reference)))
    assert (result.reward, result.done) == (1.0, True)
    verdict = result.observation
    assert (verdict.correct, verdict.format_ok, verdict.answer) == (True, True, expected.reference)
    assert (
        verdict.reason.startswith("an optimal set") and verdict.verdict_metadata["value"] == expected.state["optimum"]
    )

    state = env.state()
    assert state.episode_id and state.step_count == 1 and state.done
    assert (state.env, state.seed, state.level, state.params) == ("knapsack", 7, LEVEL, expected.params)
    assert state.reference == expected.reference


def test_wrong_and_unformatted_answers_earn_nothing_with_the_verdict(env):
    env.reset(seed=3)
    result = env.step(answer("99"))  # a plain string is a response too
    assert (result.reward, result.done, result.observation.correct) == (0.0, True, False)
    assert result.observation.format_ok and "there is no item 99" in result.observation.reason

    env.reset(seed=3)
    result = env.step("I would take items 1 and 2.")
    assert (result.reward, result.observation.format_ok, result.observation.answer) == (0.0, False, None)
    assert "no <answer>" in result.observation.reason


def test_resets_without_a_seed_count_up_and_may_choose_level_and_params(env, server):
    first, second = env.reset().observation.seed, env.reset().observation.seed
    assert first >= 500 and second > first  # the server-wide counter, from first_seed
    observation = env.reset(seed=1, level=0.9, params={"items": 5}).observation
    assert observation.level == 0.9 and observation.params["items"] == 5
    assert observation.params["max_weight"] == envfoundry.make("knapsack").parameter_space.at_level(0.9)["max_weight"]
    assert env.state().episode_id != "" and env.reset(seed=2, episode_id="mine").observation.seed == 2
    assert env.state().episode_id == "mine"


def test_misuse_is_an_error_in_the_protocol_and_the_session_survives(server):
    with EnvfoundryEnv(base_url=server.url).sync() as env:
        with pytest.raises(RuntimeError, match=r"no episode to step: call reset\(\) first.*code: EXECUTION_ERROR"):
            env.step(answer("1"))
        env.reset(seed=4)
        env.step(answer("1"))
        with pytest.raises(RuntimeError, match=r"this episode is over.*call reset\(\) for the next instance"):
            env.step(answer("1"))
        with pytest.raises(RuntimeError, match=r"unknown reset option\(s\) \['temperature'\]: reset takes seed"):
            env.reset(temperature=0.7)
        with pytest.raises(RuntimeError, match=r"level must be in \[0, 1\], got 2"):
            env.reset(level=2)
        with pytest.raises(RuntimeError, match="unknown parameter 'size' for environment 'knapsack'"):
            env.reset(params={"size": 3})
        with pytest.raises(RuntimeError, match="Invalid message.*VALIDATION_ERROR"):
            env.step({"answer": "1"})  # not the action's schema
        assert env.reset(seed=4).observation.seed == 4  # still the same, working session


def test_concurrent_sessions_keep_their_own_episodes(server, knapsack):
    async def episode(seed: int, started: asyncio.Barrier) -> tuple[float, int, int]:
        async with EnvfoundryEnv(base_url=server.url) as client:
            await client.reset(seed=seed)
            await started.wait()  # both episodes are open before either answers
            result = await client.step(answer(knapsack.sample(seed, level=LEVEL).reference))
            state = await client.state()
            return result.reward, state.seed, state.step_count

    async def both() -> list[tuple[float, int, int]]:
        started = asyncio.Barrier(2)
        return await asyncio.gather(episode(11, started), episode(12, started))

    assert asyncio.run(both()) == [(1.0, 11, 1), (1.0, 12, 1)]


def test_http_resets_statelessly_and_answers_bad_input_with_4xx(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        reply = http.post("/reset", json={"seed": 5})
        assert reply.status_code == 200 and reply.json()["observation"]["seed"] == 5
        assert "<answer>" in reply.json()["observation"]["prompt"]
        reply = http.post("/step", json={"action": {"response": answer("1")}})
        assert reply.status_code == 409 and "episodes live on the WebSocket" in reply.json()["detail"]
        reply = http.post("/reset", json={"level": "hard"})
        assert reply.status_code == 400 and reply.json()["detail"] == "level must be a number in [0, 1], got 'hard'"
        assert http.get("/metadata").json()["name"] == "knapsack"
        assert "response" in http.get("/schema").json()["action"]["properties"]


def _require_bubblewrap() -> None:
    from envfoundry.sandbox import isolation

    found = isolation._detect()
    if found.kind != "bubblewrap":
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the sandbox under bubblewrap, but {found.weaker_because}")
        pytest.skip(f"bubblewrap is not usable here: {found.weaker_because}")


def test_a_file_environment_is_served_from_the_sandbox():
    _require_bubblewrap()
    from envfoundry.sandbox import SandboxedEnvironment

    with OpenEnvServer(str(CORPUS / "admitted_base_conversion.py"), port=0) as server:
        assert isinstance(server.env, SandboxedEnvironment)  # make's default: a file never runs in the host
        with EnvfoundryEnv(base_url=server.url).sync() as env:
            observation = env.reset(seed=9, level=0.5).observation
            assert observation.env == "base_conversion" and "base" in observation.prompt
            reference = env.state().reference
            assert env.step(answer(reference)).reward == 1.0
            env.reset(seed=9, level=0.5)
            result = env.step(answer("0"))
            assert (result.reward, result.observation.correct, result.observation.format_ok) == (0.0, False, True)
    assert server.env._pool._closed  # the server made it, so the server closed it


def test_the_command_rejects_bad_input_in_one_line(capsys):
    assert main(["serve-openenv", "--env", "no_such_env", "--port", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["serve-openenv", "--env", "knapsack", "--port", "0", "--level", "3"]) == 2
    assert capsys.readouterr().err == "envfoundry: error: level must be in [0, 1], got 3.0\n"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve-openenv", "--env", "knapsack", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    # The parser restates the module's defaults (to stay cheap to build): they must agree.
    args = _parse(["serve-openenv", "--env", "knapsack"])
    assert (args.port, args.max_sessions, args.first_seed) == (DEFAULT_PORT, DEFAULT_MAX_SESSIONS, TRAIN_SEED_BASE)


def _parse(argv: list[str]):
    from envfoundry.cli.main import build_parser

    return build_parser().parse_args(argv)


def test_the_command_serves_until_interrupted(capsys):
    # In this process (a second interpreter would spend most of the test importing): the command
    # serves in the main thread, as from a terminal, while a client thread plays an episode and then
    # presses Ctrl-C.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url, seen = f"http://127.0.0.1:{port}", {}

    def client() -> None:
        deadline = time.monotonic() + 30
        while True:  # until the command serves; only then is Ctrl-C the server's to handle
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline:
                    seen["error"] = exc
                    return
                time.sleep(0.05)
        try:
            with EnvfoundryEnv(base_url=url).sync() as env:
                seen["observation"] = env.reset().observation
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            seen["error"] = exc
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=client)
    thread.start()
    code = main(["serve-openenv", "--env", "knapsack", "--port", str(port), "--level", "0.2"])
    thread.join()
    assert "error" not in seen, seen.get("error")
    assert code == 0 and (seen["observation"].level, seen["observation"].seed) == (0.2, TRAIN_SEED_BASE)
    out = capsys.readouterr().out
    assert out.startswith(f"serving knapsack over OpenEnv at {url} (sessions on ws://127.0.0.1:{port}/ws; level 0.2")
    assert out.endswith("stopped serving knapsack\n")
