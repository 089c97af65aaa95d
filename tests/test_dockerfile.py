"""The Space's Dockerfile and .dockerignore, checked by parsing them, because no Docker engine runs
the tests: the image must install the pinned CPU torch and requirements.txt, run as uid 1000,
and start the same entry point as ``python app.py`` on 0.0.0.0:7860."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from explorer.cli import parse_args

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def instructions(path: Path) -> list[tuple[str, str]]:
    """Return the (INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined and
    comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def arguments(pairs: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for name, rest in pairs if name == keyword]


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(REPO_ROOT / "Dockerfile")


def test_base_image_slim_python_311(dockerfile):
    assert dockerfile[0] == ("FROM", "python:3.11-slim")


def test_runs_as_uid_1000(dockerfile):
    commands = arguments(dockerfile, "RUN")
    assert "useradd -m -u 1000 user" in commands
    assert arguments(dockerfile, "USER") == ["user"]
    env = " ".join(arguments(dockerfile, "ENV"))
    assert "HOME=/home/user" in env
    assert arguments(dockerfile, "WORKDIR") == ["$HOME/app"]


def test_torch_pins_match_requirements(dockerfile):
    pins = requirement_pins(REPO_ROOT / "requirements.txt")
    torch_installs = [shlex.split(c) for c in arguments(dockerfile, "RUN") if "torch==" in c]
    assert len(torch_installs) == 1
    words = torch_installs[0]
    assert words[:2] == ["pip", "install"]
    assert f"torch=={pins['torch']}" in words
    assert f"torchvision=={pins['torchvision']}" in words
    assert words[words.index("--index-url") + 1] == TORCH_CPU_INDEX


def test_installs_requirements_after_torch(dockerfile):
    commands = arguments(dockerfile, "RUN")
    torch_at = next(i for i, c in enumerate(commands) if "torch==" in c)
    requirements_at = next(i for i, c in enumerate(commands) if "-r requirements.txt" in c)
    assert torch_at < requirements_at
    copied = [shlex.split(c) for c in arguments(dockerfile, "COPY")]
    assert ["--chown=user", "requirements.txt", "."] in copied
    assert (REPO_ROOT / "requirements.txt").is_file()


def test_starts_app_on_port_7860(dockerfile):
    (command,) = arguments(dockerfile, "CMD")
    words = eval(command)  # noqa: S307 - the exec form of CMD is a JSON list of strings
    assert words == ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
    assert (REPO_ROOT / words[1]).is_file()
    options = parse_args(words[2:])
    assert options.host == "0.0.0.0"
    assert options.port == 7860
    assert arguments(dockerfile, "EXPOSE") == ["7860"]
    assert "GRADIO_ANALYTICS_ENABLED=False" in " ".join(arguments(dockerfile, "ENV"))


def excluded(path: str, patterns: list[str]) -> bool:
    """Return True if a .dockerignore excludes ``path``: a pattern, trailing slash removed as Docker
    does, matches the path or a folder above it. Supports ``*``, ``?``, ``[...]`` and ``**``, not
    ``!`` exceptions, which the file does not use."""
    for pattern in patterns:
        regex = re.escape(pattern.rstrip("/"))
        regex = regex.replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        regex = regex.replace(r"\[", "[").replace(r"\]", "]")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:end])) for end in range(1, len(parts) + 1)):
            return True
    return False


def test_dockerignore_keeps_only_code():
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not [p for p in patterns if p.startswith("!")]
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "runs/cpu/run.json",
        "checkpoints/demo/run.json",
        "explorer/__pycache__/app.cpython-311.pyc",
        ".pytest_cache/README.md",
        ".ruff_cache/CACHEDIR.TAG",
        "data/VOCdevkit/VOC2012/JPEGImages/2007_000033.jpg",
    ):
        assert excluded(path, patterns), path
    for path in ("app.py", "requirements.txt", "explorer/app.py", "dropseg/runs.py", "training/publish.py"):
        assert not excluded(path, patterns), path
