"""Files written whole or not at all.

Every file envfoundry keeps (an archive's sources, a run's state, results, caches, exports) is
written through a temporary file beside it and a rename, so a crash or a kill leaves the old file
or the complete new one, never part of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# Files are readable by everyone, as open() would make them under the usual umask (a temporary
# file starts private).
FILE_MODE = 0o644


def write_atomic(path: str | os.PathLike[str], data: bytes | str | Callable[[IO[bytes]], Any]) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    ``data`` is bytes, text (written as UTF-8) or a function that writes into the open binary file
    it is given (``np.save``, ``pq.write_table``, a streamed copy). The parent directory is made if
    needed. The temporary file sits beside ``path`` (a rename never crosses file systems) and is
    removed if anything fails, the exception then propagating. The file and, after the rename,
    its directory are synced to disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)  # the rename itself survives a power cut
    return path


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open directories (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse directory fsync
        pass
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike[str]) -> list[Any]:
    """The values of a JSON-lines file, one a line. A missing file has none, and a line that is not
    JSON is skipped: files appended to line by line (step logs) can end in a line torn by a kill."""
    values = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                values.append(json.loads(line))
            except ValueError:
                continue
    return values


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON (a trailing newline after it) to ``path`` atomically; a value that
    cannot be serialised raises before anything is written."""
    return write_atomic(path, json.dumps(data, indent=indent) + "\n")
