"""Prometheus-style metrics of the service, in the text exposition format (version 0.0.4).

Requests by endpoint and status, a latency histogram per endpoint, scores and rewards per
environment, instances sampled, and gauges read at scrape time (requests running and waiting,
curriculum levels). Label values come only from the server's own names (its routes, the
environments it serves, session names it accepted), so a client cannot grow the label set with
junk paths. Counters are updated from the request threads under one lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


class Metrics:
    def __init__(self, endpoints: Iterable[str]) -> None:
        self.endpoints = set(endpoints)
        self.started = time.time()
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # endpoint -> bucket counts, then sum, then count
        self._scores: dict[str, list[float]] = {}  # env -> [scored, correct, reward sum, format ok]
        self._samples: dict[str, int] = {}
        self._gauges: list[Callable[[], Iterable[tuple[str, str, dict[str, str], float]]]] = []

    def endpoint(self, path: str) -> str:
        """The label for a request path: the path if it is one of the server's, else ``other``."""
        return path if path in self.endpoints else "other"

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (endpoint, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            row = self._latency.get(endpoint)
            if row is None:
                row = self._latency[endpoint] = [0.0] * (len(LATENCY_BUCKETS_S) + 2)
            for index, bound in enumerate(LATENCY_BUCKETS_S):
                if seconds <= bound:
                    row[index] += 1
            row[-2] += seconds
            row[-1] += 1

    def observe_scores(self, env: str, rewards: list[float], correct: int, format_ok: int) -> None:
        with self._lock:
            row = self._scores.setdefault(env, [0, 0, 0.0, 0])
            row[0] += len(rewards)
            row[1] += correct
            row[2] += sum(rewards)
            row[3] += format_ok

    def observe_samples(self, env: str, count: int) -> None:
        with self._lock:
            self._samples[env] = self._samples.get(env, 0) + count

    def add_gauges(self, read: Callable[[], Iterable[tuple[str, str, dict[str, str], float]]]) -> None:
        """``read()`` gives ``(name, help, labels, value)`` rows at every scrape."""
        self._gauges.append(read)

    def scored(self) -> int:
        with self._lock:
            return int(sum(row[0] for row in self._scores.values()))

    def render(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, rows: Iterable[tuple[dict[str, Any], float]],
                   suffix: str = "") -> None:  # fmt: skip
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in rows:
                text = ",".join(f'{key}="{_label(str(val))}"' for key, val in labels.items())
                lines.append(
                    f"{name}{suffix}{{{text}}} {_number(value)}" if text else f"{name}{suffix} {_number(value)}"
                )

        with self._lock:
            requests = sorted(self._requests.items())
            latency = {endpoint: list(row) for endpoint, row in sorted(self._latency.items())}
            scores = {env: list(row) for env, row in sorted(self._scores.items())}
            samples = sorted(self._samples.items())
        family("envfoundry_requests_total", "counter", "HTTP requests answered, by endpoint and status",
               [({"endpoint": e, "status": s}, n) for (e, s), n in requests])  # fmt: skip
        lines.append("# HELP envfoundry_request_seconds Time to answer a request, by endpoint")
        lines.append("# TYPE envfoundry_request_seconds histogram")
        for endpoint, row in latency.items():
            label = _label(endpoint)
            for bound, count in zip(LATENCY_BUCKETS_S, row, strict=False):
                lines.append(f'envfoundry_request_seconds_bucket{{endpoint="{label}",le="{bound}"}} {int(count)}')
            lines.append(f'envfoundry_request_seconds_bucket{{endpoint="{label}",le="+Inf"}} {int(row[-1])}')
            lines.append(f'envfoundry_request_seconds_sum{{endpoint="{label}"}} {row[-2]!r}')
            lines.append(f'envfoundry_request_seconds_count{{endpoint="{label}"}} {int(row[-1])}')
        family("envfoundry_scores_total", "counter", "Responses scored, by environment",
               [({"env": env}, int(row[0])) for env, row in scores.items()])  # fmt: skip
        family("envfoundry_correct_total", "counter", "Responses scored fully correct, by environment",
               [({"env": env}, int(row[1])) for env, row in scores.items()])  # fmt: skip
        family("envfoundry_reward_sum", "counter", "Sum of the rewards given, by environment",
               [({"env": env}, row[2]) for env, row in scores.items()])  # fmt: skip
        family("envfoundry_format_ok_total", "counter", "Responses with an <answer> block, by environment",
               [({"env": env}, int(row[3])) for env, row in scores.items()])  # fmt: skip
        family("envfoundry_samples_total", "counter", "Instances sampled, by environment",
               [({"env": env}, n) for env, n in samples])  # fmt: skip
        family("envfoundry_uptime_seconds", "gauge", "Seconds since the server started",
               [({}, round(time.time() - self.started, 3))])  # fmt: skip
        gauges: dict[str, tuple[str, list[tuple[dict[str, str], float]]]] = {}
        for read in self._gauges:
            for name, help_text, labels, value in read():
                gauges.setdefault(name, (help_text, []))[1].append((labels, value))
        for name, (help_text, rows) in gauges.items():
            family(name, "gauge", help_text, rows)
        return "\n".join(lines) + "\n"
