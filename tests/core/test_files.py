import json
import os
import stat

import pytest

from envfoundry.core.files import read_jsonl, write_atomic, write_json_atomic


def test_bytes_text_and_a_writer_function_each_land_whole(tmp_path):
    target = tmp_path / "deep" / "er" / "file.bin"  # missing parents are made
    assert write_atomic(target, b"\x00\x01") == target and target.read_bytes() == b"\x00\x01"
    write_atomic(target, "é\n")
    assert target.read_bytes() == "é\n".encode()
    write_atomic(target, lambda handle: handle.write(b"streamed"))
    assert target.read_bytes() == b"streamed"
    # Readable by others, as open() would make it (a temporary file starts private), and nothing left beside it.
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644 and os.listdir(target.parent) == ["file.bin"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = write_json_atomic(tmp_path / "eval.json", {"pass_rate": 0.5})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"pass_rate": object()})  # fails while serialising

    def half_then_fail(handle):
        handle.write(b'{"pass_rate": 0.')
        raise KeyboardInterrupt  # a kill mid-write, not only an error

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, half_then_fail)
    assert json.loads(path.read_text()) == {"pass_rate": 0.5} and list(tmp_path.iterdir()) == [path]


def test_json_is_indented_with_a_trailing_newline_unless_asked_otherwise(tmp_path):
    assert write_json_atomic(tmp_path / "a.json", {"a": [1]}).read_text() == '{\n  "a": [\n    1\n  ]\n}\n'
    assert write_json_atomic(tmp_path / "b.json", {"a": [1]}, indent=None).read_text() == '{"a": [1]}\n'


def test_json_lines_are_read_back_skipping_a_torn_line_and_a_missing_file_is_empty(tmp_path):
    log = tmp_path / "steps.jsonl"
    log.write_text('{"step": 1}\n[2]\nnot json\n{"step": 3}\n{"step": 4, "ru')  # the last line torn by a kill
    assert read_jsonl(log) == [{"step": 1}, [2], {"step": 3}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []
