"""Pull Python source out of a model's reply: fenced blocks first, then bare code after leading prose.

Models wrap code in ```python fences (sometimes ```py, sometimes a bare ```), write prose before and after,
split code over several blocks, forget the closing fence when they run out of tokens, and reasoning models
put drafts inside <think>...</think>. `extract_code` copes with all of that and returns None when the reply
holds nothing that looks like Python.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

_PYTHON_LANGS = frozenset({"", "python", "py", "python3", "py3", "ipython"})
_OPEN_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_INLINE_OPEN_RE = re.compile(r"(?P<fence>`{3,})[ \t]*(?P<lang>python3?|py)[ \t]*$", re.IGNORECASE)
_THINK_RE = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_CODE_START_RE = re.compile(r"^(?:import\s+\w|from\s+[\w.]+\s+import\b|class\s+\w)")
_ENV_CLASS_RE = re.compile(r"^\s*class\s+\w+\s*\([^)]*\bEnvironment\b", re.MULTILINE)
_LOOKS_LIKE_CODE_RE = re.compile(
    r"^\s*(?:import\s+\w|from\s+[\w.]+\s+import\b|class\s+\w+\s*[(:]|def\s+\w+\s*\()", re.M
)
_MAX_TRIM_STEPS = 400
_MAX_BARE_STARTS = 20


@dataclass
class _Candidate:
    code: str
    parses: bool
    defines_environment: bool
    position: int


def extract_code(reply: str) -> str | None:
    """Return the Python source in `reply` (ending in one newline), or None when nothing plausible is there.

    Preference: fenced Python blocks that parse, among them one defining a subclass of `Environment`, else the
    longest; an unclosed last block (the model hit its token limit, or forgot the fence before more prose) is
    cut back to its longest prefix that parses. Without fences, the text from the first line starting with
    `import`, `from` or `class` is taken when it (or a prefix of it) parses. A fenced block that does not parse
    is returned only when nothing parses, so the caller can report the syntax error.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    without_thinking = _THINK_RE.sub("", text)
    texts = [without_thinking] if without_thinking == text else [without_thinking, text]
    for candidate_text in texts:
        code = _from_fences(candidate_text)
        if code is None:
            code = _from_bare_text(candidate_text)
        if code is not None:
            return code
    return None


def _from_fences(text: str) -> str | None:
    blocks = _fenced_blocks(text)
    candidates = [_candidate(code, closed, labelled, i) for i, (code, closed, labelled) in enumerate(blocks)]
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        return None
    parsing = [c for c in candidates if c.parses]
    pool = parsing or candidates
    envs = [c for c in pool if c.defines_environment]
    pool = envs or pool
    best = max(pool, key=lambda c: (len(c.code), -c.position))
    return best.code


def _fenced_blocks(text: str) -> list[tuple[str, bool, bool]]:
    """(content, closed, labelled_python) of each fenced block whose language is Python or unspecified."""
    lines = text.split("\n")
    blocks: list[tuple[str, bool, bool]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _OPEN_RE.match(line)
        if match:
            fence, info, indent = match["fence"], match["info"].strip(), match["indent"]
        else:
            inline = _INLINE_OPEN_RE.search(line)
            if inline is None:
                i += 1
                continue
            fence, info, indent = inline["fence"], inline["lang"], ""
        lang = _language(info)
        body: list[str] = []
        closed = False
        j = i + 1
        while j < len(lines):
            current = lines[j]
            stripped = current.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                closed = True
                j += 1
                break
            reopen = _OPEN_RE.match(current)
            if reopen and reopen["fence"][0] == fence[0] and _language(reopen["info"]) in _PYTHON_LANGS - {""}:
                # A new ```python block opened without closing this one: end this one here, unclosed.
                break
            if stripped.endswith(fence) and not stripped.startswith(fence[0]):
                # Closing fence glued to the last code line: "    return x```".
                body.append(current[: current.rstrip().rfind(fence)])
                closed = True
                j += 1
                break
            body.append(current[len(indent) :] if indent and current.startswith(indent) else current)
            j += 1
        if lang in _PYTHON_LANGS:
            blocks.append(("\n".join(body), closed, lang != ""))
        i = j
    return blocks


def _language(info: str) -> str:
    return re.match(r"[\w+#.-]*", info.strip().lstrip("{.")).group().lower()


def _candidate(code: str, closed: bool, labelled: bool, position: int) -> _Candidate | None:
    code = _normalise(code)
    if not code:
        return None
    if _parses(code):
        return _Candidate(code, True, _defines_environment(code), position)
    if not closed:
        prefix = _longest_parsing_prefix(code)
        if prefix:
            return _Candidate(prefix, True, _defines_environment(prefix), position)
    if not labelled and not _LOOKS_LIKE_CODE_RE.search(code):
        return None
    return _Candidate(code, False, bool(_ENV_CLASS_RE.search(code)), position)


def _from_bare_text(text: str) -> str | None:
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _CODE_START_RE.match(line)][:_MAX_BARE_STARTS]
    for start in starts:
        code = _normalise("\n".join(lines[start:]))
        if _parses(code):
            return code
        prefix = _longest_parsing_prefix(code)
        if prefix:
            return prefix
    return None


def _normalise(code: str) -> str:
    code = textwrap.dedent(code).strip("\n")
    code = "\n".join(line.rstrip() for line in code.split("\n"))
    return code + "\n" if code.strip() else ""


def _parses(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return bool(tree.body)


def _longest_parsing_prefix(code: str) -> str | None:
    """The longest run of leading lines that parses and holds real code (an import, class or def).

    Guided by the syntax error: a prefix holding the offending line fails the same way, so the next try ends
    just before it (or one line shorter, when the error is at the very end, as with truncated code).
    """
    lines = code.rstrip("\n").split("\n")
    end = len(lines)
    for _ in range(_MAX_TRIM_STEPS):
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        if end == 0:
            return None
        prefix = _normalise("\n".join(lines[:end]))
        try:
            tree = ast.parse(prefix)
        except SyntaxError as exc:
            error_line = exc.lineno or end
            end = min(error_line - 1, end - 1)
            continue
        except (ValueError, MemoryError, RecursionError):
            end -= 1
            continue
        if _has_definitions(tree):
            return prefix
        return None
    return None


def _has_definitions(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Import | ast.ImportFrom | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        for node in tree.body
    )


def _defines_environment(code: str) -> bool:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if (isinstance(base, ast.Name) and base.id == "Environment") or (
                    isinstance(base, ast.Attribute) and base.attr == "Environment"
                ):
                    return True
    return False
