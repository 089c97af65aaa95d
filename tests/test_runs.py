"""The run folder helpers: atomic writes, exclusive creation and the validator."""

from __future__ import annotations

import json
import os

import pytest

from dropseg import runs


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "record.json"
    runs.atomic_write_json(path, {"value": 1})
    runs.atomic_write_json(path, {"value": 2, "missing": float("nan")})

    assert json.loads(path.read_text()) == {"value": 2, "missing": None}
    assert list(path.parent.iterdir()) == [path]


def test_atomic_write_crash_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    runs.atomic_write_json(path, {"value": "old"})

    def failing_replace(source, target):
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        runs.atomic_write_json(path, {"value": "new"})

    assert json.loads(path.read_text()) == {"value": "old"}
    assert list(tmp_path.iterdir()) == [path]


def test_atomic_write_crash_in_writer(tmp_path):
    path = tmp_path / "weights.bin"

    def partial_writer(stream):
        stream.write(b"half of the data")
        raise RuntimeError("process died while writing")

    with pytest.raises(RuntimeError):
        runs.atomic_write(path, partial_writer)

    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_create_json_first_wins(tmp_path):
    path = tmp_path / "run.json"

    assert runs.atomic_create_json(path, {"shard": 0})
    assert not runs.atomic_create_json(path, {"shard": 1})
    assert json.loads(path.read_text()) == {"shard": 0}
    assert list(tmp_path.iterdir()) == [path]


def test_validate_run_missing_folder(tmp_path):
    problems = runs.validate_run(tmp_path)

    assert len(problems) == 1
    assert "run.json not found" in problems[0]


def test_read_run_rejects_other_version(tmp_path):
    runs.atomic_write_json(runs.run_json_path(tmp_path), {"format_version": runs.FORMAT_VERSION + 1})

    with pytest.raises(ValueError, match="format_version"):
        runs.read_run(tmp_path)


def test_remove_temp_files_keeps_finished(tmp_path):
    runs.atomic_write_json(tmp_path / "epoch-001" / "metrics.json", {"epoch": 1})
    (tmp_path / "epoch-001" / ".weights.safetensors.abc123.tmp").write_bytes(b"partial")

    assert runs.remove_temp_files(tmp_path) == 1
    assert [p.name for p in (tmp_path / "epoch-001").iterdir()] == ["metrics.json"]
