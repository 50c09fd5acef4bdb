"""The archive of synthesised environments: every validated candidate, admitted or rejected.

>>> from envfoundry.archive import Archive
>>> with Archive() as archive:                                   # doctest: +SKIP
...     archive.record(source, reports=reports, admitted=True, env_name="my_env")
...     archive.path_for("my_env")
"""

from envfoundry.archive.queries import ArchivedEnvironment, Record
from envfoundry.archive.schema import (
    SCHEMA_VERSION,
    ArchiveError,
    archive_exists,
    default_archive_dir,
    source_hash,
    valid_name,
)
from envfoundry.archive.store import Archive

__all__ = [
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "ArchivedEnvironment",
    "Record",
    "archive_exists",
    "default_archive_dir",
    "source_hash",
    "valid_name",
]
