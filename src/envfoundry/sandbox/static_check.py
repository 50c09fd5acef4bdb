"""A static pre-check of environment source: reject obviously disallowed code early, with a reason.

This is a courtesy to authors (a clear sentence instead of a sandbox error at run time) and a
cheap filter for synthesized candidates. Security never depends on it: the operating-system
sandbox contains whatever slips through, and tests run hostile code with this check switched off.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Modules that reach files, processes, the network or the interpreter's internals. An environment
# needs none of them: it builds instances from an rng and checks answers.
DISALLOWED_MODULES = frozenset(
    """
    asyncio atexit bdb builtins code codeop concurrent ctypes cffi dbm faulthandler fcntl ftplib
    gc getpass glob grp http httpx imaplib imp importlib inspect io marshal mmap multiprocessing
    nt os pathlib pdb pickle pkgutil platform poplib posix pty pwd requests resource runpy select
    selectors shelve shutil signal site smtplib socket socketserver sqlite3 ssl subprocess sys
    sysconfig tempfile telnetlib termios threading trace tracemalloc tty urllib webbrowser
    xmlrpc zipimport _thread _posixsubprocess _socket _ctypes
    """.split()
)
# Builtins that execute text as code, open files, read input or expose namespaces.
DISALLOWED_CALLS = frozenset(
    "eval exec compile __import__ open input breakpoint globals locals vars memoryview help exit quit".split()
)
# Attribute names used to climb from any object to the interpreter's internals.
DISALLOWED_ATTRIBUTES = frozenset(
    """
    __base__ __bases__ __builtins__ __class__ __closure__ __code__ __dict__ __func__ __getattribute__
    __globals__ __import__ __loader__ __mro__ __reduce__ __reduce_ex__ __self__ __spec__
    __subclasses__ __traceback__ __wrapped__ cr_frame f_back f_builtins f_code f_globals f_locals
    gi_code gi_frame tb_frame tb_next co_code
    """.split()
)
DYNAMIC_ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})


@dataclass(frozen=True)
class Finding:
    """One reason to reject a source file."""

    line: int
    message: str
    syntax: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def _flag(self, node: ast.AST, message: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), message))

    def _check_module(self, node: ast.AST, module: str) -> None:
        top = module.split(".")[0]
        if top in DISALLOWED_MODULES:
            self._flag(node, f"imports '{module}', and environments may not use files, processes, the network "
                       "or interpreter internals")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._check_module(node, node.module)
        elif node.level > 0:
            self._flag(node, "uses a relative import; an environment is a single self-contained file")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in DISALLOWED_CALLS:
                self._flag(node, f"calls {func.id}(), which environments may not use")
            elif func.id in DYNAMIC_ATTRIBUTE_CALLS and len(node.args) >= 2:
                name = node.args[1]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    self._flag(node, f"calls {func.id}() with a computed attribute name")
                elif name.value in DISALLOWED_ATTRIBUTES or name.value.startswith("__"):
                    self._flag(node, f"calls {func.id}() on the special attribute '{name.value}'")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in DISALLOWED_ATTRIBUTES:
            self._flag(node, f"accesses '.{node.attr}', which reaches interpreter internals")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in {"__builtins__", "__loader__", "__spec__", "__import__"}:
            self._flag(node, f"uses '{node.id}', which reaches interpreter internals")
        self.generic_visit(node)


def static_check(source: str, filename: str = "<environment>") -> list[Finding]:
    """Every obviously disallowed import, call and attribute in ``source``; empty if none.

    A syntax error is reported as a single finding.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [Finding(exc.lineno or 0, exc.msg, syntax=True)]
    except ValueError as exc:  # e.g. null bytes in the source
        return [Finding(0, f"cannot be parsed: {exc}")]
    visitor = _Visitor()
    visitor.visit(tree)
    return sorted(visitor.findings, key=lambda finding: finding.line)


def describe_findings(findings: list[Finding], filename: str) -> str:
    """One sentence naming the first finding and how many more there are."""
    first = findings[0]
    if first.syntax:
        return f"'{filename}' has a syntax error at line {first.line}: {first.message}"
    more = f" (and {len(findings) - 1} more finding(s))" if len(findings) > 1 else ""
    return f"'{filename}' was rejected before running: {first}{more}"
