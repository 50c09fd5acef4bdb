"""The archive: every candidate environment ever validated, admitted or rejected, on disk.

``Archive`` is one directory (see ``schema`` for its layout) opened through one ``Database``
connection. Its methods come from the module of their concern:

- ``schema``  the layout, the tables and their migration, opening the database, the one way to
              begin a transaction (``Database.write()`` and ``Database.read()``);
- ``writes``  ``record``, ``start_run``, ``finish_run``, ``check`` (it repairs under the write lock);
- ``queries`` ``get``, ``path_for``, ``environments``, ``names``, ``candidates``, ``source``,
              ``runs``, ``run``, ``funnel``, ``export``.

Two processes writing the same archive queue on SQLite's write lock instead of failing; within a
process the connection is shared behind a lock, so an ``Archive`` can be used from several threads.
"""

from __future__ import annotations

import os
from pathlib import Path

from envfoundry.archive.queries import ArchiveReader
from envfoundry.archive.schema import DB_NAME, SOURCES, Database, check_directory, default_archive_dir
from envfoundry.archive.writes import ArchiveWriter
from envfoundry.errors import InvalidInputError


class Archive(ArchiveWriter, ArchiveReader):
    """A crash-safe store of validated environment candidates; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise InvalidInputError(f"the archive root must be a path, got {type(root).__name__}")
        self.root = default_archive_dir() if root is None else Path(root).expanduser()
        self.db_path = self.root / DB_NAME
        self.sources_dir = self.root / SOURCES
        check_directory(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = Database(self.db_path)
        self.sources_dir.mkdir(exist_ok=True)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Archive '{self.root}'{' closed' if self._db.closed else ''}>"
