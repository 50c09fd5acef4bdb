"""Structural fingerprint and structural similarity of Python source: how alike two modules are as
code, whatever they call things and however they word their texts.

``structural_fingerprint`` hashes the AST with docstrings, comments, annotations, imports and the
``register`` call dropped, every name the module defines (variables, arguments, functions, classes,
attributes it assigns) and every state key replaced by placeholders numbered in order of first
appearance (locals per function), other strings (prompt text, messages, the environment name)
masked, and runs of function definitions sorted. An exact copy, or one with renamed variables /
class / environment name and reworded docstrings and texts, has the same fingerprint as its original.

``structural_similarity`` is the Jaccard similarity of the ``SHINGLE_SIZE``-shingles of the
normalised AST token stream with names read as ``ID``: the measure the novelty stage falls back to
without the embedding model (its threshold and calibration live with the stage).

Pure standard library: nothing here imports a model or runs the code it reads.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Tokens per shingle of the normalised AST token stream (about one short statement).
SHINGLE_SIZE = 12
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_register(node: ast.AST) -> bool:
    func = node.func if isinstance(node, ast.Call) else node
    return (isinstance(func, ast.Name) and func.id == "register") or (
        isinstance(func, ast.Attribute) and func.attr == "register"
    )


class _Stripper(ast.NodeTransformer):
    """Drops what never changes behaviour: docstrings, annotations, imports (their aliases are
    recorded, so ``import random as rnd`` reads as ``random``), bare string expressions, and the
    module-level ``register(...)`` call or decorator (seeds register, candidates need not)."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = [
            stmt
            for stmt in node.body
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _is_register(stmt.value))
        ]
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.decorator_list = [d for d in node.decorator_list if not _is_register(d)]
        return self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list):
                kept = [stmt for stmt in value if not _is_docstring(stmt)]
                if not kept and name == "body" and not isinstance(node, ast.Module):
                    kept = [ast.Pass()]
                setattr(node, name, kept)
        return node

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
        return None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
        return None

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        return self.generic_visit(node)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        return self.generic_visit(ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno))


@dataclass
class _Bound:
    """What the module itself defines: the names a renamed copy may call differently. Names local
    to a function are found per function (``_local_names``) and numbered per function."""

    names: set[str] = field(default_factory=set)  # module and class level: globals, functions, classes
    attributes: set[str] = field(default_factory=set)  # attributes it assigns, methods, class attributes
    parameters: set[str] = field(default_factory=set)  # argument names anywhere (keywords in calls)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _binds(node: ast.AST) -> str | None:
    """The name a node binds in its scope, if any."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return node.id
    if isinstance(node, _DEFINITIONS):
        return node.name
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return node.name
    if isinstance(node, ast.MatchMapping):
        return node.rest
    return None


def _scope_nodes(roots: list[ast.AST]) -> Iterable[ast.AST]:
    """Every node of a scope, not descending into the functions and lambdas it defines (their
    name, decorators and defaults do belong to it)."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            arguments = node.args
            inner = [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                inner += node.decorator_list
            stack.extend(reversed(inner))
        else:
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _local_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """The arguments of a function or lambda and the names its own body binds."""
    arguments = node.args
    local = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    local.update(a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None)
    declared: set[str] = set()
    body = node.body if isinstance(node.body, list) else [node.body]
    for child in _scope_nodes(body):
        if isinstance(child, (ast.Global, ast.Nonlocal)):
            declared.update(child.names)
        elif (bound := _binds(child)) is not None:
            local.add(bound)
    return local - declared


def _bound_names(tree: ast.Module) -> _Bound:
    bound = _Bound()
    for node in _scope_nodes(tree.body):
        if (name := _binds(node)) is not None:
            bound.names.add(name)
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            bound.parameters.add(node.arg)
        elif isinstance(node, ast.Global):
            bound.names.update(node.names)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, _DEFINITIONS):
                    bound.attributes.add(stmt.name)
                elif isinstance(stmt, (ast.Assign, ast.AugAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    bound.attributes.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            bound.attributes.add(node.attr)
    return bound


# Which identifiers each field holds: a variable-like name, an attribute, or a keyword argument.
_IDENTIFIER_FIELDS = {
    (ast.Name, "id"): "names",
    (ast.arg, "arg"): "names",
    (ast.FunctionDef, "name"): "names",
    (ast.AsyncFunctionDef, "name"): "names",
    (ast.ClassDef, "name"): "names",
    (ast.Attribute, "attr"): "attributes",
    (ast.keyword, "arg"): "parameters",
    (ast.Global, "names"): "names",
    (ast.Nonlocal, "names"): "names",
    (ast.ExceptHandler, "name"): "names",
    (ast.MatchAs, "name"): "names",
    (ast.MatchStar, "name"): "names",
    (ast.MatchMapping, "rest"): "names",
    (ast.MatchClass, "kwd_attrs"): "attributes",
}
_SKIPPED_FIELDS = {"ctx", "type_comment", "kind", "type_ignores", "type_params"}


class _Tokens:
    """The normalised token stream of a stripped module.

    ``numbered`` mode replaces what the module defines by placeholders numbered by first
    appearance: the fingerprint's stream. Module-level names (functions, classes, constants, class
    attributes) and attributes the module assigns share one numbering (``v<i>``: ``self.solve`` and
    ``def solve`` match); a function's arguments and locals are numbered within that function
    (``a<depth>.<i>``), so renaming a parameter in one function and not in another still matches;
    keyword names of calls are ``k<i>``; identifier-like strings used as dict keys or subscripts
    (state keys, parameter names in ``space``) are ``s<i>``, apart from names, so a copy that renames
    a variable but keeps the state key it is stored under still matches. Every other string (prompt
    text, messages, descriptions, the environment name, choices) is ``STR``: a coincidence such as a
    state key spelled like the ``asymmetry`` value must not tell a copy from its original. Without
    ``numbered`` every such name is just ``ID``: the similarity stream, where one extra variable must
    not renumber everything after it. A name is only replaced where the module defines it in that
    role: ``d.items()`` keeps ``items`` even when a local variable is called ``items``.
    """

    def __init__(self, bound: _Bound, aliases: dict[str, str], numbered: bool, keys: set[int]) -> None:
        self.bound = bound
        self.aliases = aliases
        self.numbered = numbered
        self.keys = keys  # ids of the string constants used as dict keys or subscripts
        self.names: dict[str, str] = {}
        self.keywords: dict[str, str] = {}
        self.strings: dict[str, str] = {}
        self.scopes: list[tuple[set[str], dict[str, str]]] = []
        self.out: list[str] = []

    def name(self, ident: str, role: str = "names") -> str:
        if role == "names":
            for depth in range(len(self.scopes) - 1, -1, -1):
                local, numbers = self.scopes[depth]
                if ident in local:
                    if not self.numbered:
                        return "ID"
                    return numbers.setdefault(ident, f"a{depth}.{len(numbers)}")
        if ident not in getattr(self.bound, role):
            # Builtins, imported API (under its real name), attributes of other objects.
            return self.aliases.get(ident, ident) if role == "names" else ident
        if not self.numbered:
            return "ID"
        if role == "parameters":
            return self.keywords.setdefault(ident, f"k{len(self.keywords)}")
        return self.names.setdefault(ident, f"v{len(self.names)}")

    def string(self, text: str, key: bool) -> str:
        if key and text.isidentifier() and not keyword.iskeyword(text):
            if not self.numbered:
                return "ID"
            return self.strings.setdefault(text, f"s{len(self.strings)}")
        return "STR"  # prose (prompts, messages, descriptions) and other values: a copy may reword them

    def visit(self, node: Any) -> None:
        if isinstance(node, list):
            self.out.append("[")
            for item in node:
                self.visit(item)
            self.out.append("]")
            return
        if not isinstance(node, ast.AST):
            self.out.append("STR" if isinstance(node, str) else repr(node))
            return
        if isinstance(node, ast.Constant):
            value = node.value
            text = self.string(value, id(node) in self.keys) if isinstance(value, str) else repr(value)
            self.out += ["Constant", text]
            return
        if isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
            self.out.append(type(node).__name__)
            return
        self.out.append(type(node).__name__)
        scoped = isinstance(node, _SCOPES)
        for name in node._fields:
            if name in _SKIPPED_FIELDS:
                continue
            value = getattr(node, name, None)
            role = _IDENTIFIER_FIELDS.get((type(node), name))
            if role is not None:
                if isinstance(value, list):
                    self.out.extend(self.name(v, role) for v in value)
                elif value is not None:
                    self.out.append(self.name(value, role))
                continue
            if scoped and name == "args":  # after the function's own name, which the enclosing scope binds
                self.scopes.append((_local_names(node), {}))
            if name == "body" and isinstance(value, list):
                value = self._ordered(value)
            self.visit(value)
        if scoped:
            self.scopes.pop()

    def _ordered(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """Runs of consecutive definitions sorted by their un-numbered stream: reordering methods
        or helper functions changes nothing."""
        out: list[ast.stmt] = []
        run: list[ast.stmt] = []
        for stmt in [*body, None]:
            if isinstance(stmt, _DEFINITIONS):
                run.append(stmt)
                continue
            if run:
                out.extend(sorted(run, key=self._key))
                run = []
            if stmt is not None:
                out.append(stmt)
        return out

    def _key(self, node: ast.AST) -> str:
        plain = _Tokens(self.bound, self.aliases, False, self.keys)
        plain.visit(node)
        return " ".join(plain.out)


def _parse(source: str) -> tuple[ast.Module, _Bound, dict[str, str]]:
    tree = ast.parse(source)
    stripper = _Stripper()
    tree = stripper.visit(tree)
    return tree, _bound_names(tree), stripper.aliases


def structural_tokens(source: str, numbered: bool = False) -> list[str]:
    """The normalised AST token stream of ``source`` (``SyntaxError`` if it does not parse)."""
    tree, bound, aliases = _parse(source)
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys.update(id(key) for key in node.keys if isinstance(key, ast.Constant))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.add(id(node.slice))
    tokens = _Tokens(bound, aliases, numbered, keys)
    tokens.visit(tree)
    return tokens.out


def structural_fingerprint(source: str) -> str:
    """A hash of the code up to names and prose: the same for an exact copy and for one with renamed
    variables, functions, classes, state keys or environment name, reworded docstrings, comments,
    prompt text and messages, changed type annotations, aliased imports, reordered function
    definitions or no ``register`` call. Literal numbers, operators, calls of anything the module
    does not define and the control flow all count. ``SyntaxError`` if it does not parse."""
    stream = "\x1f".join(structural_tokens(source, numbered=True))
    return hashlib.sha256(stream.encode()).hexdigest()


def token_shingles(tokens: Sequence[str], size: int = SHINGLE_SIZE) -> set[int]:
    """Hashes of every run of ``size`` consecutive tokens (the whole stream when it is shorter)."""
    if len(tokens) <= size:
        return {hash(tuple(tokens))}
    return {hash(tuple(tokens[i : i + size])) for i in range(len(tokens) - size + 1)}


def jaccard(a: set[int], b: set[int]) -> float:
    """``|a & b| / |a | b|``; 1.0 for two empty sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def structural_similarity(a: str, b: str) -> float:
    """Jaccard similarity in [0, 1] of the ``SHINGLE_SIZE``-shingles of the two normalised AST token
    streams (names the modules define read as ``ID``, other strings as ``STR``)."""
    return jaccard(token_shingles(structural_tokens(a)), token_shingles(structural_tokens(b)))
