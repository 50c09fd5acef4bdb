"""Stage 1, static: the source parses, stays within size limits, passes the AST pre-check and
declares exactly one environment class with the whole authoring contract. Nothing is executed."""

from __future__ import annotations

import ast
import re
from typing import Any

from envfoundry.core.environment import ASYMMETRIES, AUTHOR_METHODS
from envfoundry.sandbox.static_check import describe_findings, static_check
from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "static"
MAX_BYTES = 64 * 1024
MAX_LINES = 1500
_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _is_environment_base(base: ast.expr) -> bool:
    return (isinstance(base, ast.Name) and base.id == "Environment") or (
        isinstance(base, ast.Attribute) and base.attr == "Environment"
    )


def _class_attribute(cls: ast.ClassDef, name: str) -> ast.expr | None:
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return node.value
    return None


def _contract_problems(cls: ast.ClassDef) -> tuple[list[str], str | None]:
    problems: list[str] = []
    name_node = _class_attribute(cls, "name")
    name = name_node.value if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str) else None
    if name is None or not _NAME_RE.fullmatch(name):
        problems.append("`name` must be a lowercase identifier string literal")
    asymmetry = _class_attribute(cls, "asymmetry")
    if not (isinstance(asymmetry, ast.Constant) and asymmetry.value in ASYMMETRIES):
        problems.append("`asymmetry` must be 'algorithmic' or 'planted'")
    space = _class_attribute(cls, "space")
    if not isinstance(space, ast.Dict) or not space.keys:
        problems.append("`space` must be a non-empty dict of parameters")
    if not ast.get_docstring(cls):
        problems.append("the class needs a docstring (its description)")
    methods = {node.name for node in cls.body if isinstance(node, ast.FunctionDef)}
    missing = [m for m in AUTHOR_METHODS if m not in methods]
    if missing:
        problems.append(f"missing method(s) {', '.join(missing)}")
    return problems, name


def check_source(source: str, filename: str) -> tuple[bool, str, dict[str, Any], str | None]:
    """(passed, reason, figures, environment name) for a source text."""
    size, lines = len(source.encode()), source.count("\n") + 1
    figures: dict[str, Any] = {"bytes": size, "lines": lines}
    if size > MAX_BYTES or lines > MAX_LINES:
        return False, f"the source is {size} bytes / {lines} lines, over {MAX_BYTES} / {MAX_LINES}", figures, None
    findings = static_check(source, filename)
    if findings:
        figures["findings"] = [str(f) for f in findings]
        return False, describe_findings(findings, filename), figures, None
    tree = ast.parse(source, filename)
    classes = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and any(_is_environment_base(base) for base in node.bases)
    ]
    if len(classes) != 1:
        return False, f"the module must define exactly one Environment subclass, found {len(classes)}", figures, None
    problems, name = _contract_problems(classes[0])
    figures["class"] = classes[0].name
    if problems:
        return False, f"{classes[0].name} breaks the contract: " + "; ".join(problems), figures, name
    return True, f"one environment class, {classes[0].name} ('{name}'), with the whole contract", figures, name


def run(candidate: Candidate, context: Context) -> StageReport:
    def body() -> StageReport:
        passed, reason, figures, name = check_source(candidate.source, candidate.filename)
        if name:
            candidate.name = name
        return StageReport(NAME, passed, reason, figures)

    return timed(NAME, body)
