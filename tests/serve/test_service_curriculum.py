"""Curriculum sessions over HTTP: the trainer asks for groups, reports rewards (or responses, which the
service scores), closes steps and the levels move; with a state directory a restart resumes them."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra")
from fastapi.testclient import TestClient  # noqa: E402

from envfoundry.serve.app import create_app  # noqa: E402
from envfoundry.serve.config import ServeConfig  # noqa: E402
from envfoundry.serve.service import FRESH_SEED_BASE, Service  # noqa: E402

ENVS = "knapsack,countdown"


def serve(**options) -> TestClient:
    return TestClient(create_app(Service(ServeConfig(envs=ENVS, group_size=4, **options))))


def levels(client: TestClient, session: str = "default") -> dict[str, float]:
    return client.get("/curriculum", params={"session": session}).json()["levels"]


def test_reported_rewards_move_the_levels_each_step():
    with serve() as client:
        assert client.get("/curriculum").status_code == 404  # no session until one is started
        for step in range(3):
            batch = client.post("/curriculum/next", json={"groups": 4}).json()
            assert batch["step"] == step and batch["group_size"] == 4 and len(batch["groups"]) == 4
            assert {group["env"] for group in batch["groups"]} <= {"knapsack", "countdown"}
            # Every rollout right: SCALER raises each environment's difficulty by one step (of 10).
            results = [{"group_id": group["group_id"], "rewards": [1.0] * 4} for group in batch["groups"]]
            stats = client.post("/curriculum/report", json={"results": results, "end_step": True}).json()["step"]
            assert stats["groups"] == 4 and stats["dead_share"] == 1.0
            assert levels(client) == {name: pytest.approx((step + 1) / 10) for name in ("countdown", "knapsack")}
        later = client.post("/curriculum/next", json={"groups": 2}).json()["groups"]
        assert all(group["level"] == pytest.approx(0.3) for group in later)
        metrics = client.get("/metrics").text
        assert 'envfoundry_curriculum_level{session="default",env="knapsack"} 0.3' in metrics
        assert 'envfoundry_curriculum_step{session="default"} 3' in metrics


def test_responses_are_scored_by_the_service_and_bad_reports_change_nothing():
    with serve() as client:
        groups = client.post("/curriculum/next", json={"session": "run-a", "groups": 2}).json()["groups"]
        first, second = groups
        reference = json.loads(first["label"])["reference"]
        bad = [{"group_id": first["group_id"], "rewards": [1.0]}, {"group_id": 10_000, "rewards": [1.0]}]
        reply = client.post("/curriculum/report", json={"session": "run-a", "results": bad})
        assert reply.status_code == 400 and "group 10000 is not awaiting a report" in reply.json()["error"]
        both = {"group_id": second["group_id"], "rewards": [1.0], "responses": ["x"]}
        assert "exactly one of 'rewards' or 'responses'" in client.post(
            "/curriculum/report", json={"session": "run-a", "results": [both]}).json()["error"]  # fmt: skip
        results = [{"group_id": first["group_id"], "responses": [f"<answer>{reference}</answer>", "no idea"]},
                   {"group_id": second["group_id"], "rewards": [0.0, 0.0]}]  # fmt: skip
        # The refused requests recorded nothing, so the first group is still awaiting its report.
        reply = client.post("/curriculum/report", json={"session": "run-a", "results": results}).json()
        assert reply["reported"][0] == {"group_id": first["group_id"], "rewards": [1.0, 0.0]}
        again = client.post("/curriculum/report", json={"session": "run-a", "results": results[1:]})
        assert again.status_code == 400 and "reported already" in again.json()["error"]
        stats = client.post("/curriculum/step", json={"session": "run-a"}).json()
        assert stats["groups"] == 2 and stats["reward_mean"] == pytest.approx(0.25)
        assert client.get("/curriculum", params={"session": "run-a"}).json()["pending_groups"] == 0


def test_sessions_are_separate_and_bounded():
    with serve(max_sessions=2) as client:
        client.post("/curriculum/next", json={"session": "a", "groups": 1})
        b = client.post("/curriculum/next", json={"session": "b", "groups": 1}).json()["groups"][0]
        client.post("/curriculum/report", json={"session": "b", "results": [{"group_id": b["group_id"],
                                                                              "rewards": [1.0]}], "end_step": True})  # fmt: skip
        assert set(levels(client, "a").values()) == {0.0} and max(levels(client, "b").values()) == pytest.approx(0.1)
        third = client.post("/curriculum/next", json={"session": "c", "groups": 1})
        assert third.status_code == 429 and "holds 2 sessions already" in third.json()["error"]


def test_a_restart_with_a_state_dir_resumes_sessions_and_seed_counters(tmp_path):
    with serve(state_dir=str(tmp_path)) as client:
        batch = client.post("/curriculum/next", json={"groups": 2}).json()["groups"]
        results = [{"group_id": group["group_id"], "rewards": [1.0, 1.0]} for group in batch]
        client.post("/curriculum/report", json={"results": results, "end_step": True})
        pending = client.post("/curriculum/next", json={"groups": 2}).json()["groups"]  # handed out, never reported
        before = client.get("/curriculum").json()
        fresh = client.post("/sample", json={"env": "knapsack", "n": 3}).json()["instances"]
    assert (tmp_path / "sessions" / "default.json").exists() and (tmp_path / "fresh_seeds.json").exists()

    with serve(state_dir=str(tmp_path)) as client:  # a new server process would do the same
        after = client.get("/curriculum").json()
        assert (after["step"], after["levels"], after["active"]) == (before["step"], before["levels"], before["active"])
        lost = client.post("/curriculum/report", json={"results": [{"group_id": pending[0]["group_id"],
                                                                    "rewards": [1.0]}]})  # fmt: skip
        assert lost.status_code == 400 and "handed out before a restart" in lost.json()["error"]
        resumed = client.post("/curriculum/next", json={"groups": 2}).json()["groups"]
        # New group ids and new seeds: nothing handed out before the restart is handed out again.
        assert min(g["group_id"] for g in resumed) > max(g["group_id"] for g in pending)
        assert {(g["env"], g["seed"]) for g in resumed}.isdisjoint({(g["env"], g["seed"]) for g in batch + pending})
        seeds = [item["seed"] for item in client.post("/sample", json={"env": "knapsack", "n": 1}).json()["instances"]]
        assert seeds == [FRESH_SEED_BASE + 3] and fresh[-1]["seed"] == FRESH_SEED_BASE + 2


def test_a_state_dir_from_other_environments_is_refused_at_start(tmp_path):
    with serve(state_dir=str(tmp_path)) as client:
        client.post("/curriculum/next", json={"groups": 1})
    with pytest.raises(ValueError, match="the saved curriculum was made for other environments"):
        Service(ServeConfig(envs="knapsack", state_dir=str(tmp_path)))
