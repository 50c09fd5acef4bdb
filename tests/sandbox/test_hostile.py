"""Hostile environment code is contained by the operating-system sandbox.

Every test writes a small, valid environment whose code is benign for every seed but 13 (or for
every answer but "attack"), where it runs one attack. The static pre-check is switched off, so
what is tested is the isolation itself: the attack must come back as a rejected call with a clear
reason (or fail harmlessly inside the sandbox), the other items of the batch and later calls must
still get exactly what the environment gives in-process, and nothing on the host may change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import socket
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import envfoundry
from envfoundry import Instance, Verdict
from envfoundry.sandbox import (
    SandboxedEnvironment,
    SandboxError,
    SandboxLimits,
    SandboxRejected,
)
from envfoundry.sandbox import environment as sandbox_environment
from envfoundry.sandbox import isolation as sandbox_isolation

if sandbox_isolation._detect().kind != "bubblewrap":
    _why = f"bubblewrap cannot run here: {sandbox_isolation._detect().weaker_because}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the hostile-code tests need bubblewrap in CI; {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

# Named, not left to the default: ENVFOUNDRY_SANDBOX=process must not run these tests in weaker isolation.
ISOLATION = "bubblewrap"
ATTACK_SEED = 13
LEVEL = 0.5
LIMITS = SandboxLimits(call_timeout_s=1.0)
SEEDS = [1, ATTACK_SEED, 2, 3]
# Enough items for both workers to get a share (a share is at least 16 items).
WIDE_SEEDS = list(range(40))
PRIVILEGED = os.geteuid() == 0
SANDBOX_UID_BASE = 200_000
MIB = 1024 * 1024
PACKAGE_DIR = Path(envfoundry.__file__).resolve().parent
# Where the package is mounted inside a bubblewrap sandbox.
PACKAGE_IN_SANDBOX = f"{sandbox_isolation.SANDBOX_ROOT}/envfoundry"

TEMPLATE = '''
"""A test environment: benign for every seed but 13, which runs the hostile snippet."""

import random

from envfoundry import Environment, IntParam, Score, answer_instruction

ATTACK_SEED = 13


def attack(state):
    """Runs inside generate() for the attack seed; may record what happened in state["outcome"]."""


def attack_prompt(state):
    """Runs inside prompt() for the attack seed; a value that is not None becomes the prompt."""
    return None


def attack_verify(state):
    """Runs inside verify() for the answer "attack"."""
    return Score(0.0, "no attack here")


# --- the hostile snippet --------------------------------------------------------------------
SNIPPET
# --- end of the snippet ---------------------------------------------------------------------


class Hostile(Environment):
    """Add up a few numbers (and, for one seed, attack the machine)."""

    name = "hostile"
    asymmetry = "algorithmic"
    space = {"n": IntParam(2, 8)}

    def sample(self, seed, level=None, params=None):
        self._attack = seed == ATTACK_SEED
        return super().sample(seed, level, params)

    def generate(self, rng: random.Random, n: int) -> dict:
        state = {"numbers": [rng.randint(1, 100) for _ in range(n)]}
        if self._attack:
            state["attacked"] = True
            attack(state)
        return state

    def prompt(self, state: dict) -> str:
        if state.get("attacked"):
            hijacked = attack_prompt(state)
            if hijacked is not None:
                return hijacked
        return f"Add up {state['numbers']} ({state.get('outcome', 'benign')}). " + answer_instruction("42")

    def reference(self, state: dict) -> str:
        return str(sum(state["numbers"]))

    def verify(self, state: dict, answer: str):
        if answer == "attack":
            return attack_verify(state)
        return Score(float(answer == str(sum(state["numbers"]))))

    def complexity(self, state: dict) -> float:
        return float(len(state["numbers"]))
'''


def source(snippet: str, **constants: Any) -> str:
    """The environment file for ``snippet``; ``constants`` become module-level names in it."""
    lines = [f"{name} = {value!r}" for name, value in constants.items()]
    return TEMPLATE.replace("SNIPPET", "\n".join(lines) + "\n" + textwrap.dedent(snippet))


class Hostile:
    """One hostile environment file, run in the sandbox and (benign seeds only) in-process."""

    def __init__(self, path: Path, env: SandboxedEnvironment) -> None:
        self.path = path
        self.env = env
        self._local: Any = None

    @property
    def local(self) -> Any:
        # Importing the file runs only its definitions: the attack runs for seed 13, never sampled here.
        if self._local is None:
            self._local = envfoundry.make(str(self.path), sandbox=False)
        return self._local

    def expected(self, seed: int) -> Instance:
        assert seed != ATTACK_SEED
        return self.local.sample(seed, level=LEVEL)

    def assert_benign(self, seeds: list[int], results: list[Any]) -> None:
        """Every item but the attack's is the instance the environment gives in-process."""
        assert len(results) == len(seeds)
        for seed, result in zip(seeds, results, strict=True):
            if seed != ATTACK_SEED:
                assert isinstance(result, Instance), f"seed {seed} failed: {result!r}"
                assert result == self.expected(seed)

    def assert_serves(self, seeds: tuple[int, ...] = (5, 6)) -> None:
        """The pool still answers afterwards, correctly."""
        for seed in seeds:
            assert self.env.sample(seed, level=LEVEL) == self.expected(seed)


@pytest.fixture
def hostile(tmp_path):
    """Build sandboxed hostile environments; every one is closed (and checked to leave no process)."""
    built: list[Hostile] = []

    def build(snippet: str, *, limits: SandboxLimits = LIMITS, workers: int = 2, **constants: Any) -> Hostile:
        path = tmp_path / f"hostile_{len(built)}.py"
        path.write_text(source(snippet, **constants))
        env = SandboxedEnvironment(path, static_check=False, limits=limits, workers=workers, isolation=ISOLATION)
        built.append(Hostile(path, env))
        return built[-1]

    yield build
    for item in built:
        tracked = sandbox_processes(item.env)
        item.env.close()
        assert_gone(tracked)


# ----- host-side observations ---------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, parent pid, start time, real uid) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as handle:
            uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return fields[0], int(fields[1]), int(fields[19]), uid


def _all_processes() -> dict[int, tuple[str, int, int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _proc_stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def sandbox_processes(env: SandboxedEnvironment, roots: set[int] | None = None) -> dict[int, tuple[int, int]]:
    """Every live process of the environment's sandboxes (its bwrap processes, or those of
    ``roots``, and all their descendants), as pid -> (start time, uid)."""
    table = _all_processes()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, tuple[int, int]] = {}
    todo = [pid for pid in (env.worker_pids() if roots is None else roots) if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found[pid] = (table[pid][2], table[pid][3])
            todo.extend(children.get(pid, []))
    return found


def _running(tracked: dict[int, tuple[int, int]]) -> list[int]:
    alive = []
    for pid, (start, _) in tracked.items():
        info = _proc_stat(pid)
        if info is not None and info[2] == start and info[0] not in ("Z", "X"):
            alive.append(pid)
    return alive


def processes_with_uids(uids: set[int]) -> list[int]:
    """Live (not zombie) processes on the machine whose real uid is one of ``uids``."""
    return [pid for pid, (state, _, _, uid) in _all_processes().items() if uid in uids and state not in ("Z", "X")]


def assert_gone(tracked: dict[int, tuple[int, int]], timeout: float = 5.0) -> None:
    """None of ``tracked`` survives (the kernel may take a moment to tear a PID namespace down)."""
    uids = {uid for _, uid in tracked.values() if uid >= SANDBOX_UID_BASE}
    deadline = time.monotonic() + timeout
    while True:
        left = _running(tracked) + processes_with_uids(uids)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"sandbox processes survived: {sorted(set(left))}"


def alive(pid: int) -> bool:
    info = _proc_stat(pid)
    return info is not None and info[0] not in ("Z", "X")


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def token() -> str:
    return f"envfoundry-hostile-{uuid.uuid4().hex}"


def instance_text(result: Any) -> str:
    return json.dumps(result.to_dict()) if isinstance(result, Instance) else str(result)


def attacked(results: list[Any], seeds: list[int] = SEEDS) -> Any:
    return results[seeds.index(ATTACK_SEED)]


# ----- the file system ----------------------------------------------------------------------------
WRITE_EVERYWHERE = """
import os


def attack(state):
    outcome = {}
    for label, path in TARGETS.items():
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write("pwned")
            outcome[label] = "written"
        except OSError as exc:
            outcome[label] = type(exc).__name__
    try:
        with open(EXISTING, "a") as handle:
            handle.write("pwned")
        outcome["existing"] = "appended"
    except OSError as exc:
        outcome["existing"] = type(exc).__name__
    with open(PRIVATE_TMP) as handle:
        outcome["read_back"] = handle.read()
    state["outcome"] = outcome
"""


def test_writes_outside_the_private_tmp_never_reach_the_host(hostile, tmp_path):
    name = token()
    host_targets = {
        "host_tmp_path": tmp_path / "written-by-sandbox" / name,
        "package_on_host": PACKAGE_DIR / f"{name}.py",
        "python_install": Path(os.path.realpath(sys.base_prefix)) / f"{name}.txt",
        "usr": Path("/usr/lib") / name,
        "etc": Path("/etc") / name,
    }
    targets = {label: str(path) for label, path in host_targets.items()}
    targets["package_in_sandbox"] = f"{PACKAGE_IN_SANDBOX}/{name}.py"
    targets["private_tmp"] = f"/tmp/{name}"
    existing = PACKAGE_DIR / "__init__.py"
    before = file_digest(existing)
    h = hostile(WRITE_EVERYWHERE, TARGETS=targets, EXISTING=f"{PACKAGE_IN_SANDBOX}/__init__.py",
                PRIVATE_TMP=f"/tmp/{name}")  # fmt: skip

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    # Inside, the private /tmp is writable and the write is real ...
    assert outcome["private_tmp"] == "written" and outcome["read_back"] == "pwned"
    # ... everything else is read-only or not there at all (a host path under /tmp, like a clone
    # in /tmp, lands in the private /tmp instead: the host checks below still hold for it).
    for label in ("package_on_host", "python_install", "usr", "etc", "package_in_sandbox", "existing"):
        if label in host_targets and str(host_targets[label]).startswith("/tmp/"):
            continue
        assert outcome[label] in ("PermissionError", "OSError", "FileNotFoundError"), (label, outcome[label])
    # Nothing appeared or changed on the host, not even in the host's /tmp.
    for label, path in host_targets.items():
        assert not path.exists(), f"{label}: the sandbox wrote {path} on the host"
    assert not Path(f"/tmp/{name}").exists()
    assert not Path(PACKAGE_IN_SANDBOX, f"{name}.py").exists()
    assert file_digest(existing) == before
    h.assert_serves()


FILL_THE_DISK = """
def attack(state):
    outcome = {}
    for label, size in (("one_big_file", 100 * 1024 * 1024), ("many_files", 0)):
        written = 0
        try:
            if size:
                with open("/tmp/big", "wb") as handle:
                    for _ in range(size // (1024 * 1024)):
                        written += handle.write(bytes(1024 * 1024))
            else:
                for index in range(200):
                    with open(f"/tmp/part{index}", "wb") as handle:
                        written += handle.write(bytes(1024 * 1024))
            outcome[label] = f"wrote {written}"
        except OSError as exc:
            outcome[label] = f"{type(exc).__name__} errno {exc.errno} after {written}"
    state["outcome"] = outcome
"""


def test_filling_the_private_tmp_stops_at_its_limits(hostile):
    h = hostile(FILL_THE_DISK, limits=SandboxLimits(call_timeout_s=1.0, file_size_bytes=4 * MIB, tmp_bytes=8 * MIB))

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    # One file stops at RLIMIT_FSIZE (EFBIG), many files at the size of the tmpfs (ENOSPC).
    assert outcome["one_big_file"] == f"OSError errno 27 after {4 * MIB}", outcome
    assert outcome["many_files"].startswith("OSError errno 28 after"), outcome
    assert int(outcome["many_files"].rsplit(" ", 1)[1]) <= 8 * MIB
    h.assert_serves()


READ_SECRETS = """
import os


def attack(state):
    outcome = {}
    for label, path in CANDIDATES.items():
        try:
            with open(path) as handle:
                outcome[label] = handle.read()
        except OSError as exc:
            outcome[label] = type(exc).__name__
    try:
        outcome["listing"] = os.listdir(SECRET_DIR)
    except OSError as exc:
        outcome["listing"] = type(exc).__name__
    outcome["root"] = sorted(os.listdir("/"))
    state["outcome"] = outcome
"""


def test_a_planted_host_file_cannot_be_read(hostile, tmp_path):
    secret = token()
    planted = tmp_path / "secret.txt"
    planted.write_text(secret)
    candidates = {
        "direct": str(planted),
        "via_proc_1_root": f"/proc/1/root{planted}",
        "via_proc_self_root": f"/proc/self/root{planted}",
        "via_host_pid": f"/proc/{os.getpid()}/root{planted}",
        "via_proc_1_cwd": f"/proc/1/cwd/{planted.name}",
    }
    h = hostile(READ_SECRETS, CANDIDATES=candidates, SECRET_DIR=str(tmp_path))

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    for label in candidates:
        assert outcome[label] in ("FileNotFoundError", "PermissionError", "NotADirectoryError"), (label, outcome)
    assert outcome["listing"] in ("FileNotFoundError", "PermissionError")
    # The sandbox sees only what was bound into it.
    assert set(outcome["root"]) <= {"bin", "dev", "lib", "lib32", "lib64", "opt", "proc", "root", "sbin", "tmp", "usr"}
    assert not any(secret in instance_text(result) for result in results)
    assert planted.read_text() == secret
    h.assert_serves()


ENVIRONMENT_SECRET = """
import os


def attack(state):
    outcome = {"environ": dict(os.environ), "getenv": os.environ.get("ENVFOUNDRY_TEST_SECRET")}
    places = {"self": "/proc/self/environ", "init": "/proc/1/environ", "parent": f"/proc/{os.getppid()}/environ"}
    for label, path in places.items():
        try:
            with open(path, "rb") as handle:
                outcome[label] = handle.read().decode(errors="replace")
        except OSError as exc:
            outcome[label] = type(exc).__name__
    state["outcome"] = outcome
"""


def test_the_hosts_environment_variables_are_not_visible(hostile, monkeypatch):
    secret = token()
    monkeypatch.setenv("ENVFOUNDRY_TEST_SECRET", secret)
    h = hostile(ENVIRONMENT_SECRET)

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    assert outcome["getenv"] is None
    assert set(outcome["environ"]) <= {"HOME", "PATH", "LANG", "PWD", "LC_CTYPE"}, outcome["environ"]
    assert outcome["init"] in ("PermissionError", "FileNotFoundError")
    assert not any(secret in instance_text(result) for result in results)
    assert os.environ["ENVFOUNDRY_TEST_SECRET"] == secret
    h.assert_serves()


# ----- the network --------------------------------------------------------------------------------
NETWORK = """
import socket


def attack(state):
    outcome = {}
    try:
        with socket.create_connection(("127.0.0.1", TCP_PORT), timeout=0.5) as conn:
            conn.sendall(b"pwned")
        outcome["tcp"] = "connected"
    except OSError as exc:
        outcome["tcp"] = type(exc).__name__
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"pwned", ("127.0.0.1", UDP_PORT))
        outcome["udp"] = "sent"
    except OSError as exc:
        outcome["udp"] = type(exc).__name__
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            unix.settimeout(0.5)
            unix.connect(ABSTRACT)
            unix.sendall(b"pwned")
        outcome["unix"] = "connected"
    except OSError as exc:
        outcome["unix"] = type(exc).__name__
    try:
        socket.getaddrinfo("example.com", 80)
        outcome["dns"] = "resolved"
    except OSError as exc:
        outcome["dns"] = type(exc).__name__
    state["outcome"] = outcome
"""


def test_sockets_cannot_reach_listeners_on_the_host(hostile):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract = "\0" + token()
    accepted: list[str] = []
    stop = threading.Event()

    def serve(listener: socket.socket, label: str) -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(label)
            conn.close()

    with tcp, udp, unix:
        tcp.bind(("127.0.0.1", 0))
        udp.bind(("127.0.0.1", 0))
        unix.bind(abstract)
        for listener in (tcp, unix):
            listener.listen(8)
        threads = [
            threading.Thread(target=serve, args=(s, label), daemon=True) for s, label in ((tcp, "tcp"), (unix, "unix"))
        ]
        for thread in threads:
            thread.start()
        try:
            h = hostile(NETWORK, TCP_PORT=tcp.getsockname()[1], UDP_PORT=udp.getsockname()[1], ABSTRACT=abstract)
            results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)
            time.sleep(0.2)  # time for a connection that did get through to be accepted
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        udp.settimeout(0.05)
        with pytest.raises(TimeoutError):
            udp.recvfrom(64)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    assert outcome["tcp"] != "connected" and outcome["unix"] != "connected", outcome
    assert outcome["dns"] != "resolved"
    assert accepted == []
    h.assert_serves()


# ----- resources ----------------------------------------------------------------------------------
MEMORY_BOMBS = {
    "4GiB": """
def attack(state):
    state["hog"] = bytearray(4 * 1024**3)
""",
    "100MB-chunks": """
def attack(state):
    hog = []
    while True:
        hog.append(b"x" * (100 * 1024 * 1024))
""",
    "doubling": """
def attack(state):
    hog = "x" * 1024
    while True:
        hog = hog + hog
""",
}
# A small address space: the bomb hits it before the time limit even on a slow machine.
MEMORY_LIMITS = SandboxLimits(call_timeout_s=2.0, memory_bytes=256 * MIB)


@pytest.mark.parametrize("snippet", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_a_memory_bomb_is_a_memory_error_and_the_host_is_unaffected(hostile, snippet):
    h = hostile(snippet, limits=MEMORY_LIMITS)
    rss_before = max_rss_mib()

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    failure = attacked(results)
    assert isinstance(failure, SandboxError) and failure.kind == "memory", failure
    assert "ran out of memory (limit 256 MiB)" in str(failure)
    h.assert_benign(SEEDS, results)
    assert max_rss_mib() - rss_before < 200
    h.assert_serves()


FORK_BOMB = """
import os


def attack(state):
    while True:
        os.fork()
"""


def test_a_fork_bomb_is_reported_and_the_batch_carries_on(hostile):
    h = hostile(FORK_BOMB)
    tracked = sandbox_processes(h.env)

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    assert isinstance(attacked(results), SandboxError), attacked(results)
    h.assert_benign(SEEDS, results)
    h.assert_serves()
    tracked.update(sandbox_processes(h.env))
    h.env.close()
    assert_gone(tracked)


FORK_AND_STAY = """
import os
import time


def attack(state):
    children = 0
    try:
        for _ in range(1000):
            if os.fork() == 0:
                while True:  # a child never returns to the worker's loop, whatever happens to it
                    try:
                        os.fork()
                        time.sleep(0.05)
                    except BaseException:
                        pass
            children += 1
    except OSError as exc:
        state["outcome"] = f"{type(exc).__name__} after {children}"
"""


def test_fork_bomb_processes_are_capped_and_killed_with_the_worker(hostile):
    h = hostile(FORK_AND_STAY)
    limit = LIMITS.max_processes

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    kind, children = outcome.split(" after ")
    assert kind == "BlockingIOError" and int(children) >= 1
    tracked = sandbox_processes(h.env)
    if PRIVILEGED:
        # Each worker has a uid of its own, and RLIMIT_NPROC caps the processes of that uid: the
        # bomb (its children fork too) filled its worker's allowance and not one process more.
        uids = {uid for _, uid in tracked.values() if uid >= SANDBOX_UID_BASE}
        assert len(uids) == h.env.workers
        assert sorted(len(processes_with_uids({uid})) for uid in uids) == [1, limit]
    h.assert_serves()
    h.env.close()
    assert_gone(tracked)


LOOPS = {
    "loop": """
def attack(state):
    while True:
        pass
""",
    # Swallows the worker's own alarm: only the host can stop it.
    "loop-catching-BaseException": """
def attack(state):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
""",
    "SIGALRM-ignored": """
import signal


def attack(state):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass
""",
    "alarm-cancelled": """
import signal


def attack(state):
    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        pass
""",
    "sleep": """
import time


def attack(state):
    time.sleep(3600)
""",
}


@pytest.mark.parametrize("snippet", LOOPS.values(), ids=LOOPS.keys())
def test_an_infinite_loop_times_out_and_the_other_items_are_served(hostile, snippet):
    h = hostile(snippet)
    before = set(h.env.worker_pids())
    tracked = {pid: sandbox_processes(h.env, {pid}) for pid in before}

    started = time.monotonic()
    results = h.env.sample_many(WIDE_SEEDS, level=LEVEL, strict=False)
    elapsed = time.monotonic() - started

    failure = attacked(results, WIDE_SEEDS)
    assert isinstance(failure, SandboxError) and failure.kind == "timeout", failure
    assert "longer than 1 s" in str(failure)
    assert elapsed < 10
    h.assert_benign(WIDE_SEEDS, results)
    # The worker that ran the loop is gone with everything it started; the other one is untouched.
    after = set(h.env.worker_pids())
    assert len(before - after) == 1 and len(before & after) == 1
    (killed,) = before - after
    assert_gone(tracked[killed])
    (untouched,) = before & after
    assert all(alive(pid) for pid in tracked[untouched])
    h.assert_serves()


# ----- signals and crashes ------------------------------------------------------------------------
KILL_EVERYONE = """
import os
import signal


def attack(state):
    outcome = {}
    for label, pid in (("parent", os.getppid()), ("init", 1), ("host", HOST_PID), ("everyone", -1)):
        try:
            os.kill(pid, signal.SIGKILL)
            outcome[label] = "sent"
        except OSError as exc:
            outcome[label] = type(exc).__name__
    state["outcome"] = outcome
"""


def test_killing_its_parent_and_everyone_else_harms_nobody(hostile):
    h = hostile(KILL_EVERYONE, HOST_PID=os.getpid())
    before = h.env.worker_pids()
    assert len(before) == 2

    results = h.env.sample_many(WIDE_SEEDS, level=LEVEL, strict=False)

    h.assert_benign(WIDE_SEEDS, results)
    outcome = attacked(results, WIDE_SEEDS).state["outcome"]
    assert alive(os.getpid())
    assert h.env.worker_pids() == before and all(alive(pid) for pid in before), outcome
    assert h.env.restarts == 0, outcome
    h.assert_serves()


DEATHS = {
    "SIGKILL-itself": ("import os\nimport signal\n\n\ndef attack(state):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                       "crash", "killed by SIGKILL"),
    "abort": ("import os\n\n\ndef attack(state):\n    os.abort()\n", "crash", "killed by SIGABRT"),
    "segfault": ("import ctypes\n\n\ndef attack(state):\n    ctypes.string_at(0)\n", "crash", "killed by SIGSEGV"),
    "_exit": ("import os\n\n\ndef attack(state):\n    os._exit(3)\n", "crash", "exited (status 3)"),
    "close-the-channel": ("import os\n\n\ndef attack(state):\n    os.closerange(3, 64)\n", "crash", "exited"),
    "sys.exit": ("import sys\n\n\ndef attack(state):\n    sys.exit(0)\n", "error", "raised SystemExit"),
    "KeyboardInterrupt": ("def attack(state):\n    raise KeyboardInterrupt\n", "error", "raised KeyboardInterrupt"),
}  # fmt: skip


@pytest.mark.parametrize(("snippet", "kind", "reason"), DEATHS.values(), ids=DEATHS.keys())
def test_a_worker_that_dies_is_reported_and_replaced(hostile, snippet, kind, reason):
    h = hostile(snippet)
    before = set(h.env.worker_pids())

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    failure = attacked(results)
    assert isinstance(failure, SandboxError) and failure.kind == kind, failure
    assert reason in str(failure)
    h.assert_benign(SEEDS, results)
    assert h.env.restarts == 1 and len(before - set(h.env.worker_pids())) == 1
    h.assert_serves()


# ----- output -------------------------------------------------------------------------------------
PROMPT_FLOOD = """
def attack_prompt(state):
    return "x" * (100 * 1024 * 1024)
"""


def test_a_100mb_prompt_is_too_large(hostile):
    h = hostile(PROMPT_FLOOD)
    rss_before = max_rss_mib()

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    failure = attacked(results)
    assert isinstance(failure, SandboxError), failure
    assert failure.kind == "too_large", f"expected too_large, got {failure.kind}: {failure}"
    assert "over the limit" in str(failure)
    h.assert_benign(SEEDS, results)
    assert max_rss_mib() - rss_before < 200
    h.assert_serves()


BIG_STATE = """
def attack(state):
    state["padding"] = [0] * 4_000_000  # about 8 MB of JSON: under the 16 MiB result limit
"""


def test_a_big_result_under_the_limit_comes_back(hostile):
    h = hostile(BIG_STATE)

    result = h.env.sample(ATTACK_SEED, level=LEVEL)

    assert isinstance(result, Instance) and len(result.state["padding"]) == 4_000_000
    h.assert_serves()


PRINT_FLOOD = """
import os
import sys


def attack(state):
    chunk = "y" * (1024 * 1024)
    for _ in range(10):
        print(chunk)
        sys.stdout.write(chunk + "\\n")
        sys.stderr.write(chunk + "\\n")
        os.write(1, chunk.encode() + b"\\n")
        os.write(2, chunk.encode() + b"\\n")
    print('{"ok": "forged"}')
    sys.stdout.flush()
    state["outcome"] = "printed"
"""


def test_printing_10mb_does_not_corrupt_the_protocol(hostile):
    h = hostile(PRINT_FLOOD)

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    flooded = attacked(results)
    assert isinstance(flooded, Instance), flooded
    assert flooded.seed == ATTACK_SEED and flooded.state["outcome"] == "printed"
    assert flooded.reference == str(sum(flooded.state["numbers"]))
    assert h.env.restarts == 0
    h.assert_serves()


CHANNEL_FLOOD = """
import os
import stat


def attack(state):
    payload = LINE * (1024 * 1024 // len(LINE))
    for fd in range(3, 64):  # the worker's protocol descriptor is the pipe among them
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                for _ in range(100):
                    os.write(fd, payload)
        except OSError:
            pass
"""


@pytest.mark.parametrize(
    ("line", "kind"),
    [(b"x", "too_large"), (b"garbage\n", "protocol")],
    ids=["100MB-without-newline", "100MB-of-garbage-lines"],
)
def test_flooding_the_protocol_channel_is_rejected(hostile, line, kind):
    h = hostile(CHANNEL_FLOOD, LINE=line)
    rss_before = max_rss_mib()

    started = time.monotonic()
    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    failure = attacked(results)
    assert isinstance(failure, SandboxError) and failure.kind == kind, failure
    assert time.monotonic() - started < 10
    h.assert_benign(SEEDS, results)
    assert max_rss_mib() - rss_before < 200
    h.assert_serves()


FORGED_REPLY = """
import os
import stat


def forge():
    # One extra, well-formed reply line on the worker's protocol pipe (the only pipe it may write).
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, b'o{"error":"forged","kind":"error"}\\n')
                return
        except OSError:
            pass


def attack(state):
    forge()


def attack_verify(state):
    forge()
    return 1.0
"""


@pytest.mark.parametrize(
    ("seeds", "calls_per_worker"),
    [([1, 2, ATTACK_SEED], 10_000), ([1, ATTACK_SEED, 2, 3], 2)],
    ids=["last-of-the-batch", "last-before-a-recycle"],
)
def test_a_forged_extra_reply_is_contained(hostile, seeds, calls_per_worker):
    # The extra line lands where the worker's closing line belongs: after the last item of the
    # batch, or of the part of it that a worker serves before it is recycled.
    h = hostile(FORGED_REPLY, limits=SandboxLimits(call_timeout_s=1.0, calls_per_worker=calls_per_worker))

    results = h.env.sample_many(seeds, level=LEVEL, strict=False)

    assert isinstance(attacked(results, seeds), SandboxError)
    h.assert_benign(seeds, results)
    h.assert_serves((5, 6, 7, 8))


def test_a_forged_extra_reply_leaves_no_stale_lines_for_later_calls(hostile):
    h = hostile(FORGED_REPLY)
    with contextlib.suppress(Exception):  # that call is the test above; this one is about the next ones
        h.env.sample_many([1, 2, ATTACK_SEED], level=LEVEL, strict=False)
    # Every later call, on either worker, gets its own answer.
    h.assert_serves((5, 6, 7, 8))


def test_a_forged_extra_reply_while_scoring_never_raises(hostile):
    h = hostile(FORGED_REPLY)
    instance = h.env.sample(1, level=LEVEL)
    good = f"<answer>{instance.reference}</answer>"

    verdicts = h.env.score_many([instance] * 3, [good, good, "<answer>attack</answer>"])

    assert [v.correct for v in verdicts] == [True, True, False]
    assert verdicts[-1].reward == 0.0 and verdicts[-1].reason.startswith("sandbox:")
    h.assert_serves()


# ----- code that runs when the file is loaded -----------------------------------------------------
def _our_sandbox_processes() -> set[int]:
    """Live processes in this host process's range of sandbox uids (or, unprivileged, its bwrap children)."""
    if PRIVILEGED:
        base = SANDBOX_UID_BASE + (os.getpid() % 5000) * 1000
        return set(processes_with_uids(set(range(base, base + 1000))))
    return {pid for pid, (state, ppid, _, _) in _all_processes().items() if ppid == os.getpid() and state != "Z"}


@pytest.mark.parametrize(
    ("module_code", "reason"),
    [
        ("while True:\n    pass\n", "did not start within 1 s"),
        (
            "import os\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, 9)\n    except OSError:\n"
            "        pass\nos._exit(0)\n",
            "exited (status 0)",
        ),
        ("import os\nwhile True:\n    os.fork()\n", "BlockingIOError"),
    ],
    ids=["loop", "kill-and-exit", "fork-bomb"],
)
def test_hostile_code_at_load_time_fails_the_start_cleanly(tmp_path, module_code, reason):
    path = tmp_path / "hostile_at_load.py"
    path.write_text(source("") + "\n" + module_code)  # never imported in-process: it attacks when loaded
    before = _our_sandbox_processes()
    started = time.monotonic()

    with pytest.raises(SandboxError, match=re.escape(reason)) as raised:
        SandboxedEnvironment(
            path, static_check=False, limits=SandboxLimits(start_timeout_s=1.0), workers=2, isolation=ISOLATION
        )

    assert raised.value.kind == "load"
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while _our_sandbox_processes() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _our_sandbox_processes() - before
    assert alive(os.getpid())


# ----- code execution tricks ----------------------------------------------------------------------
def _shell_write(directory: str, path: str) -> str:
    return f"mkdir -p {directory} && echo pwned > {path}"


CTYPES = """
import ctypes
import os


def attack(state):
    libc = ctypes.CDLL(None)
    state["outcome"] = {
        "system": libc.system(COMMAND.encode()),
        "written_inside": os.path.exists(HOST_FILE),
        "setuid_0": libc.setuid(0),
        "uid": os.getuid(),
        "kill_init": libc.kill(1, 9),
        "kill_host": libc.kill(HOST_PID, 9),
    }
"""


def test_ctypes_cannot_touch_the_host(hostile, tmp_path):
    host_file = tmp_path / "ctypes" / token()
    h = hostile(CTYPES, COMMAND=_shell_write(str(host_file.parent), str(host_file)), HOST_FILE=str(host_file),
                HOST_PID=os.getpid())  # fmt: skip

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    assert outcome["setuid_0"] == -1 and outcome["uid"] != 0, outcome
    if PRIVILEGED:
        assert outcome["uid"] >= SANDBOX_UID_BASE
    assert outcome["kill_init"] == -1 and outcome["kill_host"] == -1
    if str(tmp_path).startswith("/tmp/"):  # inside, that path lies in the private /tmp: the write is real there
        assert outcome["system"] == 0 and outcome["written_inside"] is True
    assert not host_file.exists() and not host_file.parent.exists()
    assert alive(os.getpid())
    h.assert_serves()


TRICKS = """
def attack(state):
    outcome = {}
    os_module = __import__("o" + "s")
    outcome["__import__"] = os_module.system(COMMANDS[0])
    namespace = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
    importer = getattr(namespace["__imp" + "ort__"]("builti" + "ns"), "__imp" + "ort__")
    outcome["getattr"] = getattr(importer("o" + "s"), "sys" + "tem")(COMMANDS[1])
    outcome["eval"] = eval("__import__('os').system(" + repr(COMMANDS[2]) + ")")
    scope = {}
    exec("import os\\nos.makedirs(DIRECTORY, exist_ok=True)\\nopen(FILES[3], 'w').write('pwned')\\nok = 0", {
        "DIRECTORY": DIRECTORY, "FILES": FILES}, scope)
    outcome["exec"] = scope["ok"]
    wrap_close = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"][0]
    outcome["subclasses"] = wrap_close.__init__.__globals__["system"](COMMANDS[4])
    outcome["secret"] = eval("__import__('os').environ").get("ENVFOUNDRY_TEST_SECRET")
    outcome["written_inside"] = [os_module.path.exists(path) for path in FILES]
    state["outcome"] = outcome
"""


def test_import_getattr_eval_and_exec_tricks_cannot_touch_the_host(hostile, tmp_path, monkeypatch):
    secret = token()
    monkeypatch.setenv("ENVFOUNDRY_TEST_SECRET", secret)
    directory = tmp_path / "tricks"
    files = [str(directory / f"{trick}-{token()}") for trick in ("import", "getattr", "eval", "exec", "subclasses")]
    commands = [_shell_write(str(directory), path) for path in files]
    h = hostile(TRICKS, COMMANDS=commands, FILES=files, DIRECTORY=str(directory))

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    assert outcome["secret"] is None
    if str(tmp_path).startswith("/tmp/"):  # every trick did run: it wrote into the private /tmp
        assert outcome["written_inside"] == [True] * 5, outcome
    assert not directory.exists(), f"the sandbox wrote {sorted(os.listdir(directory))} on the host"
    assert not any(secret in instance_text(result) for result in results)
    h.assert_serves()


SUBPROCESS = """
import subprocess


def attack(state):
    outcome = {"touch": subprocess.run(["touch", HOST_FILE], capture_output=True).returncode}
    shell = subprocess.run(["sh", "-c", SHELL], capture_output=True, text=True, timeout=0.8)
    outcome["sh"] = shell.returncode
    outcome["sh_out"] = shell.stdout
    outcome["package"] = subprocess.run(["sh", "-c", PACKAGE], capture_output=True).returncode
    state["outcome"] = outcome
"""


def test_subprocess_cannot_touch_the_host(hostile, tmp_path, monkeypatch):
    secret = token()
    monkeypatch.setenv("ENVFOUNDRY_TEST_SECRET", secret)
    host_file = tmp_path / f"touched-{token()}"
    private = f"/tmp/{token()}"
    existing = PACKAGE_DIR / "__init__.py"
    before = file_digest(existing)
    shell = f"echo pwned > {private} && cat {private} && id -u && env"
    h = hostile(SUBPROCESS, HOST_FILE=str(host_file), SHELL=shell,
                PACKAGE=f"echo pwned >> {PACKAGE_IN_SANDBOX}/__init__.py")  # fmt: skip

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    h.assert_benign(SEEDS, results)
    outcome = attacked(results).state["outcome"]
    assert outcome["touch"] != 0
    # The shell ran, in the sandbox: its write landed in the private /tmp, as a sandbox uid, with an empty environment.
    assert outcome["sh"] == 0, outcome
    lines = outcome["sh_out"].splitlines()
    assert lines[0] == "pwned"
    if PRIVILEGED:
        assert int(lines[1]) >= SANDBOX_UID_BASE
    assert secret not in outcome["sh_out"] and "ENVFOUNDRY_TEST_SECRET" not in outcome["sh_out"]
    assert outcome["package"] != 0
    assert not host_file.exists() and not Path(private).exists()
    assert file_digest(existing) == before
    h.assert_serves()


# ----- values that are not JSON -------------------------------------------------------------------
# Nested deeper than the host's JSON decoder goes: the worker encodes it (it raised its own
# recursion limit), the host cannot decode it.
DEEP = """
import sys


def deep_value():
    sys.setrecursionlimit(100_000)
    value = []
    for _ in range(3000):
        value = [value]
    return value


def attack(state):
    state["deep"] = deep_value()


def attack_verify(state):
    return Score(1.0, "ok", {"deep": deep_value()})
"""
NOT_JSON = {
    "set": ("def attack(state):\n    state['bad'] = {1, 2, 3}\n", "not_json", "not plain JSON"),
    "object": ("def attack(state):\n    state['bad'] = object()\n", "not_json", "not plain JSON"),
    "nan": ("def attack(state):\n    state['bad'] = float('nan')\n", "not_json", "not plain JSON"),
    "circular": ("def attack(state):\n    state['bad'] = state\n", "not_json", "not plain JSON"),
    "bytes-prompt": ("def attack_prompt(state):\n    return b'not a prompt'\n", "error", "must return strings"),
    "int-prompt": ("def attack_prompt(state):\n    return 42\n", "error", "must return strings"),
    "deeply-nested": (DEEP, None, ""),
}


@pytest.mark.parametrize(("snippet", "kind", "reason"), NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_non_json_instance_is_rejected_with_a_reason(hostile, snippet, kind, reason):
    h = hostile(snippet)

    results = h.env.sample_many(SEEDS, level=LEVEL, strict=False)

    failure = attacked(results)
    assert isinstance(failure, SandboxError), failure
    if kind is not None:
        assert failure.kind == kind and reason in str(failure), failure
    h.assert_benign(SEEDS, results)
    h.assert_serves()


VERIFIERS = {
    "object": ("def attack_verify(state):\n    return object()\n", "verify returned object, expected a number", None),
    "nan": ("def attack_verify(state):\n    return float('nan')\n", "outside [0, 1]", None),
    "out-of-range": ("def attack_verify(state):\n    return 7.0\n", "outside [0, 1]", None),
    "set-metadata": ("def attack_verify(state):\n    return Score(1.0, 'ok', {'bad': {1, 2}})\n", "sandbox:", "not_json"),
    "object-metadata": ("def attack_verify(state):\n    return Score(1.0, 'ok', {'bad': object()})\n", "sandbox:",
                        "not_json"),
    "loop": (LOOPS["loop-catching-BaseException"].replace("def attack(", "def attack_verify("), "sandbox:", "timeout"),
    # verify() raising MemoryError is an ordinary verifier failure, as in-process.
    "memory": ("def attack_verify(state):\n    return bytearray(4 * 1024**3)\n", "verify raised MemoryError", None),
    "exit": ("import os\n\n\ndef attack_verify(state):\n    os._exit(0)\n", "sandbox:", "crash"),
    "deeply-nested": (DEEP, "sandbox:", None),
}  # fmt: skip


@pytest.mark.parametrize(("snippet", "reason", "sandbox_error"), VERIFIERS.values(), ids=VERIFIERS.keys())
def test_a_hostile_verifier_scores_zero_and_the_others_are_scored(hostile, snippet, reason, sandbox_error):
    h = hostile(snippet)
    instance = h.env.sample(1, level=LEVEL)
    good, bad = f"<answer>{instance.reference}</answer>", "<answer>0</answer>"
    responses = [good, bad, "<answer>attack</answer>", good, bad]

    verdicts = h.env.score_many([instance] * len(responses), responses)

    assert all(isinstance(v, Verdict) for v in verdicts)
    hostile_verdict = verdicts[2]
    assert hostile_verdict.reward == 0.0 and not hostile_verdict.correct, hostile_verdict
    assert reason in hostile_verdict.reason, hostile_verdict
    if sandbox_error is not None:
        assert hostile_verdict.metadata.get("sandbox_error") == sandbox_error, hostile_verdict
    assert [v.correct for i, v in enumerate(verdicts) if i != 2] == [True, False, True, False]
    h.assert_serves()


# ----- the static pre-check -----------------------------------------------------------------------
REJECTED = {
    "ctypes": (CTYPES, "imports 'ctypes'"),
    "subprocess": (SUBPROCESS, "imports 'subprocess'"),
    "os": (WRITE_EVERYWHERE, "imports 'os'"),
    "socket": (NETWORK, "imports 'socket'"),
    "eval": ("def attack(state):\n    state['os'] = str(eval(\"__import__('os')\"))\n", "calls eval()"),
    "__import__": ("def attack(state):\n    state['os'] = str(__import__('o' + 's'))\n", "calls __import__()"),
    "getattr-builtins": ("def attack(state):\n    state['x'] = str(getattr(__builtins__, '__imp' + 'ort__'))\n",
                         "calls getattr() with a computed attribute name"),
    "subclasses": ("def attack(state):\n    state['x'] = len(().__class__.__base__.__subclasses__())\n",
                   "which reaches interpreter internals"),
    "tricks": (TRICKS, "calls __import__()"),
    "exec": ("def attack(state):\n    exec('x = 1')\n", "calls exec()"),
    "open": ("def attack(state):\n    state['x'] = open('/etc/passwd').read()\n", "calls open()"),
}  # fmt: skip


@pytest.mark.parametrize(("snippet", "message"), REJECTED.values(), ids=REJECTED.keys())
def test_the_static_check_rejects_hostile_files_before_any_worker_starts(tmp_path, monkeypatch, snippet, message):
    host_file = tmp_path / "must-not-exist"
    path = tmp_path / "rejected.py"
    # Module-level hostile code too: it would run as soon as anything imported the file.
    path.write_text(source(snippet + f"\n\nimport os\nos.system('touch {host_file}')\n"))
    started = []
    monkeypatch.setattr(sandbox_environment, "SandboxPool", lambda *args, **kwargs: started.append(args))

    with pytest.raises(SandboxRejected, match=re.escape(message)) as raised:
        SandboxedEnvironment(path, limits=LIMITS, workers=2, isolation=ISOLATION)

    assert "rejected before running" in str(raised.value) and "rejected.py" in str(raised.value)
    assert started == []
    assert not host_file.exists()


def test_the_static_check_accepts_the_benign_template(tmp_path):
    path = tmp_path / "benign.py"
    path.write_text(source(""))
    with SandboxedEnvironment(path, limits=LIMITS, workers=1, isolation=ISOLATION) as env:
        local = envfoundry.make(str(path), sandbox=False)
        assert env.sample(ATTACK_SEED, level=LEVEL) == local.sample(ATTACK_SEED, level=LEVEL)
