"""Load test of the reward service: `envfoundry serve` in its own process on loopback, driven from
this one by a small keep-alive HTTP/1.1 client on raw asyncio sockets (lighter than an HTTP library,
so the client takes less of the CPU the server needs).

    python benchmarks/serve_load.py [--seconds 8] [--batch 64] [--out benchmarks/results/serve_load.json]

Phases:
1. capacity: closed loop, a few connections posting batched /score requests back to back;
2. rising rates: open loop at 0.25x, 0.5x, 1x and 2x the nominal load (requests sent on a fixed
   schedule whatever the answers; latency counted from the scheduled time, so a slow server cannot
   hide its queue), then 10x;
3. fuzz: malformed requests (wrong types, missing fields, invalid UTF-8, broken JSON, unknown
   environments, forged labels, oversized bodies, broken HTTP, random mutations of valid bodies).

Every request must be answered: a 200, or a refusal (503/429) when over capacity, or a 4xx for bad
input; a timeout, a reset connection or a 5xx is a failure. The server must be alive at the end, and
its own request count must match the client's.

Goals (issue 17): >= 5,000 scores/s on 2 cores for batched requests of in-process seed environments;
p99 < 50 ms at nominal load (5,000 scores/s); at 10x nominal no crash and no lost request; fuzzing:
0 server errors (5xx), 0 crashes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from results_json import write_results

ENVS = ["knapsack", "countdown", "edit_distance", "planted_subset_sum"]
NOMINAL_SCORES_S = 5000
RATE_FACTORS = [0.25, 0.5, 1.0, 2.0]
OVERLOAD_FACTOR = 10.0
TIMEOUT_S = 30.0
MAX_BODY_MB = 8  # the server's body limit in this run, so oversized bodies are cheap to send


# ----- a minimal HTTP/1.1 client ------------------------------------------------------------------
class Lost(Exception):
    """No answer: the connection failed, was reset, or the answer did not come in time."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.closed = reader, writer, False

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> tuple[int, bytes]:
        """Write ``data`` (a whole request, or a broken one) and read one answer."""
        self.writer.write(data)
        try:
            await self.writer.drain()
        except OSError:
            pass  # the server may answer (and close) before reading everything; read what it said
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n").encode()  # fmt: skip
        return await self.send_raw(head + body)

    def close(self) -> None:
        self.closed = True
        self.writer.close()


class Pool:
    """At most ``limit`` keep-alive connections; a request waits for a free one."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(limit)

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        async with self.slots:
            connection = self.idle.pop() if self.idle else None
            try:
                if connection is None:
                    connection = await Connection.open(self.port)
                answer = await connection.request(method, path, body, headers)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as exc:
                if connection is not None:
                    connection.close()
                raise Lost(f"{type(exc).__name__}: {exc}") from None
            if not connection.closed:
                self.idle.append(connection)
            return answer

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


# ----- the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, log: Path, extra: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "envfoundry", "serve", "--port", str(port), "--envs", ",".join(ENVS),
               "--max-body-mb", str(MAX_BODY_MB), *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in sock.recv(4096):
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("the server did not come up in 120 s")


# ----- payloads -----------------------------------------------------------------------------------
async def make_bodies(pool: Pool, batch: int, count: int) -> list[bytes]:
    """``count`` /score bodies of ``batch`` items over the environments, half answered right."""
    items = []
    for name in ENVS:
        status, body = await pool.request("POST", "/sample", orjson.dumps({"env": name, "n": batch, "level": 0.5}))
        assert status == 200, body
        for instance in orjson.loads(body)["instances"]:
            reference = orjson.loads(instance["label"])["reference"]
            items.append((instance["label"], f"Let me think.\n<answer>{reference}</answer>"))
            items.append((instance["label"], "I think it is <answer>0</answer>"))
    rng = random.Random(0)
    bodies = []
    for _ in range(count):
        chosen = rng.sample(items, batch)
        bodies.append(orjson.dumps({"labels": [label for label, _ in chosen],
                                    "responses": [response for _, response in chosen]}))  # fmt: skip
    return bodies


# ----- load phases --------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    offered_rps: float | None
    batch: int
    sent: int = 0
    ok: int = 0
    refused: int = 0  # 503 or 429
    other_status: dict[int, int] = field(default_factory=dict)
    lost: int = 0
    latencies_ok: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ok)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else None

        return {
            "phase": self.name,
            "offered_requests_per_s": self.offered_rps,
            "offered_scores_per_s": round(self.offered_rps * self.batch) if self.offered_rps else None,
            "achieved_scores_per_s": round(self.ok * self.batch / self.seconds) if self.seconds else 0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "sent": self.sent,
            "ok": self.ok,
            "refused_503_429": self.refused,
            "other_status": {str(k): v for k, v in sorted(self.other_status.items())},
            "lost": self.lost,
            "seconds": round(self.seconds, 2),
        }


async def _one(pool: Pool, body: bytes, scheduled: float, phase: Phase) -> None:
    loop = asyncio.get_running_loop()
    phase.sent += 1
    try:
        status, _ = await asyncio.wait_for(pool.request("POST", "/score", body), TIMEOUT_S)
    except (TimeoutError, Lost):
        phase.lost += 1
        return
    if status == 200:
        phase.ok += 1
        phase.latencies_ok.append(loop.time() - scheduled)
    elif status in (429, 503):
        phase.refused += 1
    else:
        phase.other_status[status] = phase.other_status.get(status, 0) + 1


async def closed_loop(pool: Pool, bodies: list[bytes], batch: int, connections: int, seconds: float) -> Phase:
    phase = Phase(f"capacity ({connections} connections, closed loop)", None, batch)
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + seconds

    async def worker(index: int) -> None:
        i = index
        while loop.time() < end:
            await _one(pool, bodies[i % len(bodies)], loop.time(), phase)
            i += connections

    await asyncio.gather(*(worker(i) for i in range(connections)))
    phase.seconds = loop.time() - start
    return phase


async def open_loop(pool: Pool, bodies: list[bytes], batch: int, rps: float, seconds: float, name: str) -> Phase:
    phase = Phase(name, round(rps, 1), batch)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []
    for i in range(max(1, int(rps * seconds))):
        at = start + i / rps
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(_one(pool, bodies[i % len(bodies)], at, phase)))
    await asyncio.gather(*tasks)
    phase.seconds = loop.time() - start
    return phase


# ----- fuzzing ------------------------------------------------------------------------------------
def fuzz_cases(label: str, rng: random.Random, random_cases: int) -> list[tuple[str, str, bytes, str]]:
    """``(method, path, body, extra headers)``; a ``RAW`` method sends ``body`` as the whole request."""
    instance = orjson.loads(label)
    forged = [{**instance, "state": [1, 2]}, {**instance, "state": {}}, {**instance, "env": "no_such_env"},
              {**instance, "version": 999}, {**instance, "version": "1"}, {k: v for k, v in instance.items() if k != "state"},
              {**instance, "params": "x"}, {**instance, "env": "/etc/passwd"}, {**instance, "env": "../x.py"}]  # fmt: skip
    js = orjson.dumps
    cases: list[tuple[str, str, bytes, str]] = []
    for bad in forged:
        cases.append(("POST", "/score", js({"labels": [js(bad).decode()], "responses": ["<answer>1</answer>"]}), ""))
        cases.append(("POST", "/score", js({"instances": [bad], "responses": ["<answer>1</answer>"]}), ""))
        cases.append(("POST", "/get_reward", js({"query": ["q"], "prompts": ["p"], "labels": [js(bad).decode()]}), ""))
    bodies = [b"", b"null", b"[]", b"1", b'"x"', b"{", b'{"labels": [', b"\xff\xfe\xfd", b'{"labels": "\xc3\x28"}',
              b"[" * 100_000, b'{"n": 1' + b"0" * 5000 + b"}", b'{"level": NaN}', b'{"level": Infinity}',
              b'{"env": "knapsack", "env": 3, "n": 1}', bytes(rng.randrange(256) for _ in range(2000))]  # fmt: skip
    for path in ("/score", "/sample", "/get_reward", "/curriculum/next", "/curriculum/report", "/curriculum/step"):
        cases += [("POST", path, body, "") for body in bodies]
    cases += [
        ("POST", "/score", js(body), "")
        for body in (
            {},
            {"labels": "x", "responses": []},
            {"labels": [1, 2], "responses": ["a", "b"]},
            {"labels": [label], "responses": ["a", "b"]},
            {"labels": [label], "responses": [None]},
            {"labels": ["{not json"], "responses": ["a"]},
            {"labels": [label], "responses": ["a"], "bare": "yes"},
            {"labels": [label], "instances": [instance], "responses": ["a"]},
            {"labels": [], "responses": []},
            {"labels": [label], "responses": ["<answer>" + "9" * 300_000 + "</answer>"]},
            {"labels": [label] * 20_000, "responses": ["a"] * 20_000},
            {"labels": [label], "responses": ["a"], "x": 1},
        )
    ]
    cases += [
        ("POST", "/sample", js(body), "")
        for body in (
            {"env": 3, "n": 1},
            {"env": "knapsack"},
            {"env": "knapsack", "n": 1, "seeds": [1]},
            {"env": "knapsack", "n": -1},
            {"env": "knapsack", "n": 10**9},
            {"env": "knapsack", "seeds": ["a"]},
            {"env": "knapsack", "seeds": [2**63]},
            {"env": "knapsack", "seeds": [True]},
            {"env": "knapsack", "n": 1, "level": "hard"},
            {"env": "knapsack", "n": 1, "level": -0.5},
            {"env": "knapsack", "n": 1, "params": [1]},
            {"env": "knapsack", "n": 1, "params": {"nope": 1}},
            {"env": "knapsack", "n": 1, "params": {"items": "many"}},
            {"env": "knapsack", "n": 1, "params": {"items": 10**6}},
            {"env": "knapsack", "n": 1, "params": {"items": [1]}},
            {"env": "/etc/passwd", "n": 1},
            {"env": "tests/synth/corpus/static_import_os.py", "n": 1},
            {"env": "rg:chain_sum", "n": 1},
            {"env": "archive", "n": 1},
        )
    ]
    cases += [
        ("POST", "/get_reward", js(body), "")
        for body in (
            {"query": ["q"]},
            {"query": ["q"], "labels": None},
            {"query": "q", "labels": [label]},
            {"query": ["q", "r"], "labels": [label]},
            {"query": ["q"], "prompts": ["p", "p"], "labels": [label]},
            {"query": [1], "labels": [label]},
            {"query": ["q"], "labels": [None]},
        )
    ]
    cases += [
        ("POST", "/curriculum/next", js(body), "")
        for body in (
            {"groups": 0},
            {"groups": "2"},
            {"groups": 10**9},
            {"groups": 1, "session": "../../etc"},
            {"groups": 1, "session": "x" * 1000},
            {"groups": 1, "session": 5},
        )
    ]
    cases += [
        ("POST", "/curriculum/report", js(body), "")
        for body in (
            {"results": []},
            {"results": [{"group_id": 10**6, "rewards": [1]}]},
            {"results": "x"},
            {"results": [{"group_id": "a", "rewards": [1]}]},
            {"session": "nobody", "results": [{"group_id": 1}]},
        )
    ]
    cases += [("GET", "/score", b"", ""), ("PUT", "/sample", b"{}", ""), ("DELETE", "/metrics", b"", ""),
              ("GET", "/nope", b"", ""), ("GET", "/curriculum?session=../../x", b"", ""),
              ("GET", "/curriculum?session=nobody", b"", ""), ("GET", "/%ff%00?x=%zz", b"", ""),
              ("POST", "/score", b"{}", "Authorization: Bearer wrong\r\n")]  # fmt: skip
    # Oversized bodies: declared (refused from the header) and chunked (refused while reading).
    limit = MAX_BODY_MB * 1024 * 1024
    cases.append(
        ("RAW", "/score", f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {limit * 4}\r\n\r\n".encode(), "")
    )
    chunk = b"x" * 65536
    chunked = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(limit // len(chunk) + 2)) + b"0\r\n\r\n"
    cases.append(
        ("RAW", "/score", b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, "")
    )
    # Broken HTTP.
    for raw in (b"GARBAGE\r\n\r\n", b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"POST /score HTTP/1.1\r\nbad header line\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"):  # fmt: skip
        cases.append(("RAW", "/", raw, ""))
    # Random mutations of valid bodies.
    valid = [("/score", {"labels": [label], "responses": ["<answer>1</answer>"]}),
             ("/sample", {"env": "knapsack", "n": 2, "level": 0.5}),
             ("/get_reward", {"query": ["p<answer>1</answer>"], "prompts": ["p"], "labels": [label]}),
             ("/curriculum/next", {"groups": 2})]  # fmt: skip
    junk = [None, True, 0, -1, 2**70 // 2**10, 1e308, "", "x" * 1000, [], {}, [None], {"a": [1]}, "\u0000\ud7ff"]
    for _ in range(random_cases):
        path, body = rng.choice(valid)
        body = dict(body)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(list(body) + ["extra"])
            if rng.random() < 0.3 and key in body:
                del body[key]
            elif key in body and isinstance(body[key], list) and body[key] and rng.random() < 0.5:
                body[key] = [rng.choice(junk)] + body[key]
            else:
                body[key] = rng.choice(junk)
        data = bytearray(js(body))
        if rng.random() < 0.3 and data:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append(("POST", path, bytes(data), ""))
    return cases


async def fuzz(port: int, label: str, random_cases: int) -> dict[str, Any]:
    cases = fuzz_cases(label, random.Random(17), random_cases)
    statuses: dict[int, int] = {}
    lost: list[str] = []
    server_errors: list[str] = []
    slots = asyncio.Semaphore(8)

    async def run(method: str, path: str, body: bytes, headers: str) -> None:
        async with slots:
            try:
                connection = await Connection.open(port)
            except OSError as exc:
                lost.append(f"connect: {exc}")
                return
            try:
                if method == "RAW":
                    status, answer = await asyncio.wait_for(connection.send_raw(body), TIMEOUT_S)
                else:
                    status, answer = await asyncio.wait_for(connection.request(method, path, body, headers), TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                lost.append(f"{method} {path} {body[:60]!r}: {type(exc).__name__}")
                return
            finally:
                connection.close()
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 500:
                server_errors.append(f"{method} {path} {body[:80]!r} -> {status} {answer[:200]!r}")

    await asyncio.gather(*(run(*case) for case in cases))
    return {"cases": len(cases), "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_errors": len(server_errors), "server_error_examples": server_errors[:5],
            "unanswered": len(lost), "unanswered_examples": lost[:5]}  # fmt: skip


# ----- main ---------------------------------------------------------------------------------------
def server_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for endpoint, status, value in re.findall(
        r'envfoundry_requests_total\{endpoint="([^"]+)",status="(\d+)"\} (\d+)', text
    ):
        counts[f"{endpoint} {status}"] = int(value)
    return counts


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'phase':<34}{'offered/s':>10}{'scores/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'ok':>7}{'503/429':>8}"
          f"{'other':>6}{'lost':>5}")  # fmt: skip
    for row in rows:
        offered = "-" if row["offered_scores_per_s"] is None else f"{row['offered_scores_per_s']:,}"
        other = sum(row["other_status"].values())
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}"
        p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.1f}"
        print(f"{row['phase']:<34}{offered:>10}{row['achieved_scores_per_s']:>10,}{p50:>8}{p99:>8}{row['ok']:>7}"
              f"{row['refused_503_429']:>8}{other:>6}{row['lost']:>5}")  # fmt: skip


async def drive(args: argparse.Namespace, port: int, process: subprocess.Popen) -> dict[str, Any]:
    pool = Pool(port, args.connections_limit)
    bodies = await make_bodies(pool, args.batch, 32)
    label = orjson.loads(bodies[0])["labels"][0]
    print(f"server up; {len(ENVS)} environments; /score bodies of {args.batch} items, "
          f"{statistics.mean(map(len, bodies)) / 1024:.0f} KiB each")  # fmt: skip
    rows = []
    progress = tqdm(total=2 + len(RATE_FACTORS) + 2, desc="serve load test", unit="phase", leave=False)
    await closed_loop(pool, bodies, args.batch, 2, 2.0)  # warm-up
    progress.update()
    before = server_counts((await pool.request("GET", "/metrics"))[1].decode())
    capacity = await closed_loop(pool, bodies, args.batch, args.connections, args.seconds)
    rows.append(capacity.row())
    progress.update()
    nominal_rps = NOMINAL_SCORES_S / args.batch
    for factor in RATE_FACTORS:
        phase = await open_loop(
            pool, bodies, args.batch, nominal_rps * factor, args.seconds, f"open loop {factor:g}x nominal"
        )
        rows.append(phase.row())
        progress.update()
    overload = await open_loop(pool, bodies, args.batch, nominal_rps * OVERLOAD_FACTOR, args.seconds,
                               f"open loop {OVERLOAD_FACTOR:g}x nominal (overload)")  # fmt: skip
    rows.append(overload.row())
    progress.update()
    alive_after_load = process.poll() is None
    after = server_counts((await pool.request("GET", "/metrics"))[1].decode())
    # What the server says it answered to /score during the load phases, by status.
    answered = {key.split()[1]: after[key] - before.get(key, 0) for key in after if key.startswith("/score ")}
    fuzzed = await fuzz(port, label, args.fuzz_cases)
    progress.update()
    progress.close()
    status, metrics = await pool.request("GET", "/metrics")
    health, _ = await pool.request("GET", "/health")
    pool.close()
    return {"rows": rows, "fuzz": fuzzed, "alive_after_load": alive_after_load,
            "alive_at_end": process.poll() is None and health == 200, "server_answered": answered,
            "server_counts": server_counts(metrics.decode()) if status == 200 else {}}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each load phase")
    parser.add_argument("--batch", type=int, default=64, help="responses per /score request")
    parser.add_argument("--connections", type=int, default=4, help="connections in the closed-loop capacity phase")
    parser.add_argument("--connections-limit", type=int, default=512, help="most client connections in open loop")
    parser.add_argument("--fuzz-cases", type=int, default=2000, help="random mutations of valid bodies")
    parser.add_argument("--server-args", default="", help="more `envfoundry serve` options, e.g. '--max-queue 8'")
    parser.add_argument("--out", default="benchmarks/results/serve_load.json")
    args = parser.parse_args()

    port = free_port()
    load_start = [round(x, 2) for x in os.getloadavg()]
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"  # what uvicorn picks
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    log = Path(tempfile.gettempdir()) / f"envfoundry-serve-load-{os.getpid()}.log"
    started = time.perf_counter()
    process = start_server(port, log, args.server_args.split())
    print(f"started `envfoundry serve` on 127.0.0.1:{port} in {time.perf_counter() - started:.1f} s (log: {log})")
    try:
        result = asyncio.run(drive(args, port, process))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    load_end = [round(x, 2) for x in os.getloadavg()]
    rows = result["rows"]
    print_table(rows)
    print(f"(uvicorn with {http} on {loop}; load average {load_start[0]} at the start and {load_end[0]} at the end "
          f"on {os.cpu_count()} cores: the server and this client share them with whatever else runs)")  # fmt: skip
    fuzzed = result["fuzz"]
    print(f"\nfuzz: {fuzzed['cases']} malformed requests -> statuses {fuzzed['statuses']}; "
          f"{fuzzed['server_errors']} server errors (5xx), {fuzzed['unanswered']} unanswered")  # fmt: skip
    for example in fuzzed["server_error_examples"] + fuzzed["unanswered_examples"]:
        print(f"  {example}")
    load_rows = [row for row in rows if row["offered_requests_per_s"] is not None]
    sent = sum(row["sent"] for row in rows)
    lost = sum(row["lost"] for row in rows)
    answered = {status: n for status, n in sorted(result["server_answered"].items()) if n}
    client_seen = {"200": sum(row["ok"] for row in rows), "503": sum(row["refused_503_429"] for row in rows)}
    books_balance = sum(answered.values()) == sent and all(answered.get(k, 0) == v for k, v in client_seen.items())
    nominal = next(row for row in load_rows if row["phase"].startswith("open loop 1x"))
    overload = load_rows[-1]
    capacity = rows[0]["achieved_scores_per_s"]
    crashed = not result["alive_at_end"]
    print(f"server process alive after the load: {result['alive_after_load']}, at the end: {result['alive_at_end']}; "
          f"during the load the client sent {sent:,} /score requests ({lost} lost) and the server answered "
          f"{sum(answered.values()):,} (by status {answered}): {'they match' if books_balance else 'MISMATCH'}")  # fmt: skip
    goals = {
        "scores_per_s": {"goal": NOMINAL_SCORES_S, "measured": capacity, "met": capacity >= NOMINAL_SCORES_S},
        "p99_ms_at_nominal": {"goal": 50, "measured": nominal["p99_ms"],
                              "met": nominal["p99_ms"] is not None and nominal["p99_ms"] < 50},
        "overload_10x": {"goal": "no crash, no lost request, excess answered 503/429",
                         "measured": {"lost": overload["lost"], "refused": overload["refused_503_429"],
                                      "other_status": overload["other_status"], "crashed": crashed},
                         "met": overload["lost"] == 0 and not overload["other_status"] and not crashed
                                and books_balance},
        "fuzz": {"goal": "0 server errors, 0 crashes",
                 "measured": {"server_errors": fuzzed["server_errors"], "unanswered": fuzzed["unanswered"],
                              "crashed": crashed},
                 "met": fuzzed["server_errors"] == 0 and not crashed},
    }  # fmt: skip
    for name, goal in goals.items():
        print(f"goal {name}: {'met' if goal['met'] else 'MISSED'} (goal {goal['goal']}, measured {goal['measured']})")
    write_results(args.out, "serve_load", {
        "envs": ENVS, "batch": args.batch, "phase_seconds": args.seconds, "nominal_scores_per_s": NOMINAL_SCORES_S,
        "server": {"extra_args": args.server_args, "max_body_mb": MAX_BODY_MB, "http": http, "loop": loop},
        "load_average": {"start": load_start, "end": load_end}, "rows": rows, "fuzz": fuzzed, "server_counts": result["server_counts"], "goals": goals,
    })  # fmt: skip
    return 0 if all(goal["met"] for goal in goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
