"""The archive of synthesised environments: every validated candidate, admitted or rejected.

>>> from envfoundry.archive import Archive
>>> with Archive() as archive:                                   # doctest: +SKIP
...     archive.record(source, reports=reports, admitted=True, env_name="my_env")
...     archive.path_for("my_env")
"""

from envfoundry.archive.store import (
    SCHEMA_VERSION,
    Archive,
    ArchivedEnvironment,
    ArchiveError,
    Record,
    archive_exists,
    default_archive_dir,
    source_hash,
    valid_name,
)

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
