"""The index of reference environments: what it adds, what it leaves out, and the settings it refuses.
Its scores against the seeds are pinned down through the novelty stage (tests/synth/test_novelty.py)."""

from __future__ import annotations

import pytest

from envfoundry.errors import EnvfoundryError
from envfoundry.similarity import EmbedderTypeError, IndexSettingError, NoveltyIndex

# A small, sound module: what the index reads is its code, not what it does.
SOURCE = '''
def repairs(text):
    open_count = inserted = 0
    for ch in text:
        if ch == "(":
            open_count += 1
        elif open_count:
            open_count -= 1
        else:
            inserted += 1
    return inserted + open_count
'''


def test_index_add_and_exclude():
    index = NoveltyIndex(embedder=None)
    index.add("archive:a", SOURCE, [])
    assert index.score(SOURCE)["duplicate_of"] == "archive:a"
    assert index.score(SOURCE, exclude="archive:a")["duplicate_of"] is None
    assert index.score(SOURCE, exclude=["archive:a"])["nearest"] is None


def test_index_refuses_unknown_settings_with_package_errors():
    with pytest.raises(IndexSettingError, match="code_mode must be one of chunks, mean, got 'max'") as bad_mode:
        NoveltyIndex(embedder=None, code_mode="max")
    assert isinstance(bad_mode.value, EnvfoundryError) and isinstance(bad_mode.value, ValueError)
    with pytest.raises(EmbedderTypeError, match="embedder must be 'auto', an Embedder or None") as bad_embedder:
        NoveltyIndex(embedder="minilm")
    assert isinstance(bad_embedder.value, EnvfoundryError) and isinstance(bad_embedder.value, TypeError)
