"""Curriculum sessions: the service's side of the curriculum loop.

A trainer names a session (``"default"`` unless it says otherwise) and loops: ``next`` hands out
GRPO groups (environment, level, instance) from the session's ``Curriculum``; ``report`` takes each
group's rewards, or its responses, which the service scores itself; ``step`` closes the curriculum
step, so every controller moves its level and the active set is curated. Each session is one
``Curriculum`` over the environments the server serves, guarded by its own lock.

With a state directory, a session is saved (atomically, by ``Curriculum.save``) after every ``next``
and every ``step``, and the sessions found there are loaded when the server starts: a killed server
comes back with the same levels, active sets and seed counters. Groups handed out but not reported
before the restart are forgotten (as when a training run resumes from a checkpoint); a trainer
reporting one gets a clear 400 and asks for the next batch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Instance, Verdict
from envfoundry.curriculum import Curriculum
from envfoundry.errors import InvalidInputError
from envfoundry.serve import payloads
from envfoundry.serve.limits import TooManySessions

SESSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_SESSION = "default"


class UnknownSession(InvalidInputError):
    status = 404


class SharedEnvironment:
    """An environment as a session's curriculum sees it: the service's own, opened on first use.

    ``is_open`` is always False, so a curriculum's end of step never releases (closes) an
    environment that another session or a score request may be using at that moment.
    """

    is_open = False

    def __init__(self, name: str, entry: Any, opener: Callable[[str], Any]) -> None:
        self.name = name
        self.family = getattr(entry, "family", "") or ""
        self.asymmetry = getattr(entry, "asymmetry", "") or ""
        self.description = getattr(entry, "description", "") or ""
        self._opener = opener

    def sample(self, seed: int, level: float | None = None, params: Mapping[str, Any] | None = None) -> Instance:
        return self._opener(self.name).sample(seed, level=level, params=params)


class Session:
    def __init__(self, name: str, curriculum: Curriculum, path: Path | None) -> None:
        self.name = name
        self.curriculum = curriculum
        self.path = path
        self.lock = threading.Lock()
        self.handed: dict[int, Instance] = {}  # groups handed out and not reported yet
        self.last_step: dict[str, Any] | None = None
        self.levels: dict[str, float] = {}
        self._snapshot()

    def _snapshot(self) -> None:
        """Levels of the active environments, replaced whole so a metrics scrape reads them lock-free."""
        self.levels = {name: self.curriculum.controllers[name].level for name in self.curriculum.active}

    def save(self) -> None:
        if self.path is not None:
            self.curriculum.save(self.path)


class Sessions:
    """Every session of one server. ``make_curriculum()`` builds a fresh ``Curriculum`` over the
    served environments; ``state_dir`` (optional) keeps one JSON file per session."""

    def __init__(self, make_curriculum: Callable[[], Curriculum], *, state_dir: str | Path | None,
                 max_sessions: int, max_batch: int) -> None:  # fmt: skip
        self.make_curriculum = make_curriculum
        self.max_sessions = max_sessions
        self.max_batch = max_batch
        self.directory = Path(state_dir).expanduser() / "sessions" if state_dir is not None else None
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        if self.directory is not None:
            for path in sorted(self.directory.glob("*.json"))[:max_sessions]:
                if SESSION_RE.fullmatch(path.stem):
                    self._sessions[path.stem] = self._open(path.stem)

    def _open(self, name: str) -> Session:
        curriculum = self.make_curriculum()
        path = self.directory / f"{name}.json" if self.directory is not None else None
        if path is not None and path.exists():
            curriculum.load(path)  # a mismatch (other environments, controller) is one clear sentence
        return Session(name, curriculum, path)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._sessions)

    def all(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def get(self, name: str, *, create: bool) -> Session:
        if not isinstance(name, str) or not SESSION_RE.fullmatch(name):
            raise InvalidInputError(f"'session' must be 1-64 letters, digits, '.', '_' or '-', got {name!r}")
        with self._lock:
            session = self._sessions.get(name)
            if session is not None:
                return session
            if not create:
                raise UnknownSession(f"no curriculum session '{name}'; POST /curriculum/next starts one")
            if len(self._sessions) >= self.max_sessions:
                raise TooManySessions(f"this server holds {len(self._sessions)} sessions already (its limit); "
                                      "reuse one of them")  # fmt: skip
            session = self._sessions[name] = self._open(name)
            return session

    # ----- the loop -----------------------------------------------------------------------------
    def next(self, session: Session, groups: int) -> dict[str, Any]:
        with session.lock:
            pending = len(session.handed)
            if pending + groups > self.max_batch:
                raise InvalidInputError(f"session '{session.name}' has {pending:,} groups handed out and not "
                                        "reported; report them (or end the step) before asking for more")  # fmt: skip
            requests = session.curriculum.next_batch(groups)
            out = []
            for request in requests:
                session.handed[request.group_id] = request.instance
                out.append({"group_id": request.group_id, "env": request.env, "level": request.level,
                            "seed": request.instance.seed, "prompt": request.instance.prompt,
                            "label": request.instance.to_json()})  # fmt: skip
            session.save()
            return {"session": session.name, "step": session.curriculum.step,
                    "group_size": session.curriculum.group_size, "groups": out}  # fmt: skip

    def report(self, session: Session, results: Sequence[Mapping[str, Any]], end_step: bool,
               score: Callable[[list[Instance], list[str]], list[Verdict]]) -> dict[str, Any]:  # fmt: skip
        """Each result is ``{"group_id": G, "rewards": [...]}`` or ``{"group_id": G, "responses": [...]}``
        (scored here). Every result is checked before any is recorded, so a bad request changes nothing."""
        with session.lock:
            seen: set[int] = set()
            parsed: list[tuple[int, list[float] | None, list[str] | None]] = []
            total = 0
            for index, result in enumerate(results):
                where = f"results[{index}]"
                unknown = sorted(set(result) - {"group_id", "rewards", "responses"})
                if unknown:
                    raise InvalidInputError(f"unknown field '{unknown[0]}' in {where} (a result takes group_id and "
                                            "rewards or responses)")  # fmt: skip
                group_id = payloads.integer(result, "group_id")
                if group_id is None:
                    raise InvalidInputError(f"{where} needs a 'group_id'")
                if group_id in seen:
                    raise InvalidInputError(f"group {group_id} is reported twice in this request")
                if not session.curriculum.awaiting(group_id):
                    raise InvalidInputError(f"group {group_id} is not awaiting a report in session "
                                            f"'{session.name}' (reported already, or handed out before a restart)")  # fmt: skip
                seen.add(group_id)
                if ("rewards" in result) == ("responses" in result):
                    raise InvalidInputError(f"{where} needs exactly one of 'rewards' or 'responses'")
                if "rewards" in result:
                    rewards = payloads.number_list(result["rewards"], f"{where}.rewards", self.max_batch)
                    parsed.append((group_id, rewards, None))
                    total += len(rewards)
                else:
                    responses = payloads.strings(result["responses"], f"{where}.responses", self.max_batch)
                    parsed.append((group_id, None, responses))
                    total += len(responses)
            if total > self.max_batch:
                raise InvalidInputError(f"the results carry {total:,} rewards or responses, more than this "
                                        f"server's limit of {self.max_batch:,} per request; split them")  # fmt: skip
            to_score = [(gid, responses) for gid, _, responses in parsed if responses is not None]
            if to_score:
                instances = [session.handed[gid] for gid, responses in to_score for _ in responses]
                verdicts = iter(score(instances, [text for _, responses in to_score for text in responses]))
                scored = {gid: [next(verdicts).reward for _ in responses] for gid, responses in to_score}
            else:
                scored = {}
            out = []
            for group_id, rewards, _ in parsed:
                rewards = rewards if rewards is not None else scored[group_id]
                session.curriculum.report(group_id, rewards)
                session.handed.pop(group_id, None)
                out.append({"group_id": group_id, "rewards": rewards})
            answer: dict[str, Any] = {"session": session.name, "reported": out}
            if end_step:
                answer["step"] = self._end_step(session)
            return answer

    def step(self, session: Session) -> dict[str, Any]:
        with session.lock:
            return self._end_step(session)

    def _end_step(self, session: Session) -> dict[str, Any]:
        stats = session.curriculum.end_step()
        # Groups reported in this step are settled; those still pending stay handed out.
        session.handed = {gid: inst for gid, inst in session.handed.items() if session.curriculum.awaiting(gid)}
        session.last_step = stats
        session._snapshot()
        session.save()
        return stats

    def describe(self, session: Session) -> dict[str, Any]:
        with session.lock:
            curriculum = session.curriculum
            return {"session": session.name, "step": curriculum.step, "active": list(curriculum.active),
                    "levels": dict(session.levels), "pending_groups": len(session.handed),
                    "controller": curriculum.controller_kind, "group_size": curriculum.group_size,
                    "saved_to": str(session.path) if session.path is not None else None,
                    "last_step": session.last_step}  # fmt: skip

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        rows: list[tuple[str, str, dict[str, str], float]] = []
        for session in self.all():
            rows.append(("envfoundry_curriculum_step", "Curriculum steps closed, by session",
                         {"session": session.name}, session.curriculum.step))  # fmt: skip
            for env, level in session.levels.items():
                rows.append(("envfoundry_curriculum_level", "Difficulty level of each active environment, by session",
                             {"session": session.name, "env": env}, level))  # fmt: skip
        return rows
