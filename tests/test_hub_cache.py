"""The explorer reads a published run from the Hugging Face cache alone (``HF_HUB_OFFLINE=1``).

The cache is filled by hand in the layout huggingface_hub 2.4 writes. Blobs are named by the
LFS sha256 or the git blob sha1, and snapshot files are relative links to them. ``refs/main``
contains the commit, and ``trees/<commit>.json`` is the tree listing that an online
``snapshot_download`` stores. The repository content is what ``python -m training publish``
selects for a smoke run. The explorer then runs as a real server and goes through the real library calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, running_explorer
from gradio_client import Client

from dropseg import runs
from explorer.cli import RUNS_ENV, parse_args
from training.publish import MODEL_CARD, model_card, parse_weights, select_files, select_variants, staged_run

pytestmark = pytest.mark.slow

REPO_ID = "owner/name"
COMMIT = hashlib.sha1(b"dropseg hub cache test").hexdigest()
# The Hub keeps binary files in LFS or Xet storage, and the cache names those blobs by their
# sha256; other files are plain git blobs, named by the git blob sha1.
LFS_SUFFIXES = (".safetensors", ".png", ".jpg")
# Its weights are in the repository's tree listing but not in the cache, like weights that no
# view has asked for yet.
UNCACHED_VARIANT = "decoder-dropblock"
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def published_files(run_dir: Path) -> dict[str, bytes]:
    """Return ``{path in repo: content}`` of what ``publish --weights every`` uploads, plus the
    ``.gitattributes`` file every Hub repository starts with."""
    choice = parse_weights("every")
    files = select_files(run_dir, select_variants(run_dir, None), choice)
    contents = {f.path: (run_dir / f.path).read_bytes() for f in files}
    with staged_run(run_dir, files) as staging:
        contents[MODEL_CARD] = model_card(staging, REPO_ID, choice).encode()
    contents[".gitattributes"] = GITATTRIBUTES
    return contents


def fill_cache(cache: Path, contents: dict[str, bytes], left_out: set[str]) -> Path:
    """Write a cached snapshot of ``contents`` at :data:`COMMIT` under ``cache`` (``HF_HUB_CACHE``);
    files in ``left_out`` are only in the tree listing. Return the repository's cache folder."""
    repo = cache / ("models--" + REPO_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    tree = {}
    for path, data in contents.items():
        entry: dict = {"size": len(data)}
        if path.endswith(LFS_SUFFIXES):
            sha256 = hashlib.sha256(data).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
            entry.update(blob_id=git_blob_sha1(pointer.encode()), lfs_sha256=sha256, lfs_size=len(data))
            blob_name = sha256
        else:
            entry["blob_id"] = blob_name = git_blob_sha1(data)
        tree[path] = entry
        if path in left_out:
            continue
        blob = repo / "blobs" / blob_name
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "trees").mkdir()
    (repo / "trees" / f"{COMMIT}.json").write_text(json.dumps({"format_version": 1, "files": tree}))
    return repo


@pytest.fixture(scope="module")
def hub_env(explorer_smoke_run, tmp_path_factory) -> dict[str, str]:
    """Environment of an offline explorer whose Hugging Face cache contains the smoke run."""
    home = tmp_path_factory.mktemp("hf-home")
    contents = published_files(explorer_smoke_run)
    prefix = f"variants/{UNCACHED_VARIANT}/"
    uncached = {p for p in contents if p.startswith(prefix) and p.endswith(runs.WEIGHTS_FILE)}
    assert uncached
    fill_cache(home / "hub", contents, uncached)
    return {
        **os.environ,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }


@pytest.fixture(scope="module")
def client(hub_env, tmp_path_factory) -> Client:
    log = tmp_path_factory.mktemp("hub-server") / "server.log"
    with running_explorer(["--runs", f"hf://{REPO_ID}"], hub_env, log) as url:
        yield Client(url, verbose=False)


@pytest.fixture(scope="module")
def val_id(explorer_smoke_run) -> str:
    return runs.read_run(explorer_smoke_run)["val_ids"][0]


def compare(client: Client, image_id: str, variants: list[str]) -> tuple:
    return client.predict(".", None, image_id, variants, "best", 0.6, 0, api_name="/compare")


def test_runs_lists_repository(client):
    assert client.predict(api_name="/runs") == ["."]


def test_results_from_cache(client):
    table, *_, status = client.predict(".", api_name="/results")
    variants = [row[0] for row in table["data"]]
    assert "none" in variants
    assert UNCACHED_VARIANT in variants
    assert "Error" not in status


def test_compare_reads_cached_weights(client, val_id):
    overlays, *_, status = compare(client, val_id, ["none", "all-chandrop-sched"])
    assert [item["caption"].split(" · ")[0] for item in overlays] == ["none", "all-chandrop-sched"]
    assert "Error" not in status


def test_compare_uncached_weights_offline(client, val_id):
    overlays, *_, status = compare(client, val_id, ["none", UNCACHED_VARIANT])
    assert [item["caption"].split(" · ")[0] for item in overlays] == ["none"]
    assert f"weights of {UNCACHED_VARIANT}" in status
    assert "not available" in status


def test_run_info_shows_pinned_revision(client):
    summary, details, status = client.predict(".", api_name="/run_info")
    assert f"Hub repository: `{REPO_ID}`" in summary
    assert f"Revision: `{COMMIT}` (requested `main`" in summary
    assert "no problems found" in summary
    assert details["config"]["preset"] == "smoke"


def test_missing_repository_offline(hub_env):
    result = subprocess.run(
        [sys.executable, "app.py", "--runs", "hf://owner/missing"],
        cwd=REPO_ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "error: cannot read hf://owner/missing" in result.stderr


def test_runs_default_from_environment(monkeypatch):
    monkeypatch.setenv(RUNS_ENV, f"hf://{REPO_ID}@v1")
    assert parse_args([]).runs == f"hf://{REPO_ID}@v1"
    monkeypatch.delenv(RUNS_ENV)
    assert parse_args([]).runs == Path("checkpoints")


@pytest.mark.parametrize("location", ["hf://name-only", "hf://datasets/owner/name", "hf://owner/name/sub"])
def test_invalid_hub_location_exits_2(location, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--runs", location])
    assert exit_info.value.code == 2
    assert location in capsys.readouterr().err
