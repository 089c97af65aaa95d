"""A training process killed mid-epoch resumes to exactly the metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dropseg import runs

REPO_ROOT = Path(__file__).resolve().parent.parent
VARIANT = "all-chandrop-sched"
EPOCHS = 3


def _command(voc_root: Path, out: Path) -> list[str]:
    options = ["--preset", "smoke", "--data", str(voc_root), "--out", str(out), "--variants", VARIANT]
    options += ["--epochs", str(EPOCHS), "--max-train-images", "16"]
    return [sys.executable, "-m", "training", "train", *options]


def _run(command: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def _comparable(record: dict) -> dict:
    # Wall-clock seconds differ between runs; everything else must match exactly.
    return {key: value for key, value in record.items() if key != "seconds"}


@pytest.mark.slow
def test_sigkill_resume_matches_uninterrupted(voc_root, tmp_path):
    reference = tmp_path / "reference"
    _run(_command(voc_root, reference))

    interrupted = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        _command(voc_root, interrupted),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first_metrics = runs.epoch_paths(interrupted, VARIANT, 0, 1).metrics
    deadline = time.monotonic() + 240
    while not first_metrics.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    finished_at_kill = runs.finished_epochs(interrupted, VARIANT, 0)
    assert 1 in finished_at_kill
    assert EPOCHS not in finished_at_kill
    assert runs.validate_run(interrupted) == []

    _run(_command(voc_root, interrupted))

    assert runs.finished_epochs(interrupted, VARIANT, 0) == list(range(1, EPOCHS + 1))
    assert runs.validate_run(interrupted) == []
    for epoch in range(1, EPOCHS + 1):
        expected = runs.epoch_paths(reference, VARIANT, 0, epoch)
        actual = runs.epoch_paths(interrupted, VARIANT, 0, epoch)
        assert _comparable(json.loads(actual.metrics.read_text())) == _comparable(
            json.loads(expected.metrics.read_text())
        )
        assert actual.per_image.read_bytes() == expected.per_image.read_bytes()
        expected_weights = load_file(expected.weights)
        actual_weights = load_file(actual.weights)
        assert actual_weights.keys() == expected_weights.keys()
        assert all(torch.equal(actual_weights[key], expected_weights[key]) for key in expected_weights)


@pytest.mark.slow
def test_resume_finishes_epoch_without_metrics(voc_root, tmp_path):
    # A process killed after saving the resume state but before the metrics record.
    out = tmp_path / "run"
    _run(_command(voc_root, out))
    last = runs.epoch_paths(out, VARIANT, 0, EPOCHS)
    expected = json.loads(last.metrics.read_text())
    last.metrics.unlink()

    _run(_command(voc_root, out))

    assert _comparable(json.loads(last.metrics.read_text())) == _comparable(expected)
    assert runs.validate_run(out) == []
