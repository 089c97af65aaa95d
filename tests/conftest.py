"""Shared fixtures. Tests read the real PASCAL VOC 2012 sample from $DROPSEG_DATA, falling back
to ../shared/data beside the repository."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropseg.data import find_voc_root

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def voc_root() -> Path:
    """The folder that contains VOCdevkit/VOC2012. A missing data set fails the test run
    instead of skipping, because CI always has the data."""
    configured = os.environ.get("DROPSEG_DATA") or str(REPO_ROOT.parent / "shared" / "data")
    return find_voc_root(configured)


# --- explorer ------------------------------------------------------------------------------

EXPLORER_VARIANTS = ("none", "all-chandrop-sched", "spp-uout", "decoder-dropblock")


@pytest.fixture(scope="session")
def explorer_smoke_run(voc_root, tmp_path_factory) -> Path:
    """A real run of four variants trained with the smoke preset (2 epochs, 8 images), once per
    session; about 10 s on 2 CPU cores."""
    out = tmp_path_factory.mktemp("explorer-runs") / "smoke"
    command = [
        sys.executable, "-m", "training", "train", "--preset", "smoke", "--data", str(voc_root),
        "--out", str(out), "--variants", ",".join(EXPLORER_VARIANTS),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def explorer_root(explorer_smoke_run) -> Path:
    """The runs root the explorer tests serve: the smoke run as ``smoke`` and a copy named
    ``smoke-damaged`` whose ``none`` epoch 2 weights are truncated and whose ``spp-uout`` epoch 1
    metrics record is not JSON."""
    root = explorer_smoke_run.parent
    damaged = root / "smoke-damaged"
    shutil.copytree(explorer_smoke_run, damaged, ignore=shutil.ignore_patterns("resume.pt"))
    weights = damaged / "variants" / "none" / "seed-0" / "epoch-002" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (damaged / "variants" / "spp-uout" / "seed-0" / "epoch-001" / "metrics.json").write_text("{not json")
    return root


@pytest.fixture(scope="session")
def explorer_url(explorer_root) -> Iterator[str]:
    """Start ``python app.py`` on a free 127.0.0.1 port over :func:`explorer_root` and return its URL."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with running_explorer(["--runs", str(explorer_root)], env, explorer_root / "server.log") as url:
        yield url


@contextlib.contextmanager
def running_explorer(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Start ``python app.py ARGS`` on a free 127.0.0.1 port with environment ``env``, yield its URL
    once the page responds (fail the test after 120 s), and stop the server on exit."""
    port = _free_port()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "app.py", *args, "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        try:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"explorer did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
