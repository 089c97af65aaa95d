"""``python -m training publish`` on a real smoke run: dry-run listings, validation, the model card
and the arguments of the upload calls. Nothing reaches the Hub: in dry runs every HfApi upload
method fails the test if called, and the one real-mode test replaces HfApi with a recorder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXPLORER_VARIANTS
from huggingface_hub import HfApi, ModelCard

from dropseg import runs
from dropseg.report import build_report, render
from training import cli, publish

pytestmark = pytest.mark.slow

REPO_ID = "someone/dropseg-smoke"


@pytest.fixture(autouse=True)
def no_hub_calls(monkeypatch):
    """Make every HfApi method that writes to the Hub fail the test."""

    def reject_call(*args, **kwargs):
        raise AssertionError("a dry run or a rejected command called the Hub")

    for name in ("create_repo", "upload_folder", "upload_file", "create_commit", "preupload_lfs_files"):
        monkeypatch.setattr(HfApi, name, reject_call)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["publish", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def parse_listing(output: str) -> tuple[dict[str, int], str]:
    """Return ``{path: size}`` of the listed files and the total line of a dry run."""
    lines = output.strip().splitlines()
    assert lines[0].startswith("Dry run:")
    files = {}
    for line in lines[1:-1]:
        size, path = line.split()
        files[path] = int(size.replace(",", ""))
    return files, lines[-1]


def expected_weights(run_dir: Path, mode: str) -> set[str]:
    """Weights paths that ``--weights mode`` keeps, worked out from the metrics records."""
    kept = set()
    for variant, seeds in runs.list_runs(run_dir).items():
        for seed in seeds:
            records = runs.read_metrics(run_dir, variant, seed)
            if mode == "every":
                epochs = [r["epoch"] for r in records]
            elif mode == "last":
                epochs = [records[-1]["epoch"]]
            elif mode == "best":
                best = max(records, key=lambda r: (r["per_image_miou"]["mean"], -r["epoch"]))
                epochs = [best["epoch"]]
            else:
                epochs = [int(e) for e in mode.split(",")]
            for epoch in epochs:
                weights = runs.epoch_paths(run_dir, variant, seed, epoch).weights
                kept.add(weights.relative_to(run_dir).as_posix())
    return kept


@pytest.mark.parametrize("mode", ["every", "best", "last", "1", "1,2"])
def test_dry_run_lists_files(capsys, explorer_smoke_run, mode):
    code, out, err = run_cli(
        capsys, str(explorer_smoke_run), "--repo", REPO_ID, "--weights", mode, "--dry-run"
    )
    assert code == 0, err
    files, total_line = parse_listing(out)

    weights = {p for p in files if p.endswith(runs.WEIGHTS_FILE)}
    assert weights == expected_weights(explorer_smoke_run, mode)
    assert not [p for p in files if p.endswith(runs.RESUME_FILE)]
    assert (explorer_smoke_run / "variants" / "none" / "seed-0" / runs.RESUME_FILE).is_file()
    assert "README.md" in files
    assert "run.json" in files

    # Metrics, per-image values and predictions of every finished epoch go up whatever the mode.
    for variant in EXPLORER_VARIANTS:
        for epoch in runs.finished_epochs(explorer_smoke_run, variant, 0):
            paths = runs.epoch_paths(explorer_smoke_run, variant, 0, epoch)
            for path in (paths.metrics, paths.per_image, *paths.predictions.glob("*.png")):
                relative = path.relative_to(explorer_smoke_run).as_posix()
                assert files[relative] == path.stat().st_size

    total = sum(files.values())
    assert total_line == f"{len(files)} files, {total:,} bytes ({total / 1e6:,.1f} MB) in total"


def test_dry_run_variant_subset(capsys, explorer_smoke_run):
    code, out, err = run_cli(
        capsys, str(explorer_smoke_run), "--repo", REPO_ID, "--variants", "none,spp-uout", "--dry-run"
    )
    assert code == 0, err
    files, _ = parse_listing(out)
    variants = {p.split("/")[1] for p in files if p.startswith("variants/")}
    assert variants == {"none", "spp-uout"}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--repo", "no-owner"], "'no-owner'"),
        (["--repo", "a/b/c"], "'a/b/c'"),
        (["--repo", "owner/bad name"], "'owner/bad name'"),
        (["--repo", REPO_ID, "--variants", "none,upper-uout"], "upper-uout"),
        (["--repo", REPO_ID, "--weights", "99"], "epoch 99"),
        (["--repo", REPO_ID, "--weights", "0"], "'0'"),
        (["--repo", REPO_ID, "--weights", "first"], "'first'"),
        (["--repo", REPO_ID, "--variants", ","], "--variants"),
    ],
)
def test_invalid_input_exits_2(capsys, explorer_smoke_run, options, named):
    code, out, err = run_cli(capsys, str(explorer_smoke_run), *options)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert named in err


def test_missing_run_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, str(tmp_path / "nothing"), "--repo", REPO_ID, "--dry-run")
    assert code == 2
    assert err.startswith("error: no run at")


def test_model_card_content(explorer_smoke_run):
    choice = publish.parse_weights("best")
    variants = publish.select_variants(explorer_smoke_run, None)
    files = publish.select_files(explorer_smoke_run, variants, choice)
    with publish.staged_run(explorer_smoke_run, files) as staging:
        text = publish.model_card(staging, REPO_ID, choice)

    card = ModelCard(text)
    assert card.data.library_name == "dropseg"
    assert card.data.license == "mit"
    assert card.data.pipeline_tag == "image-segmentation"
    assert "pascal-voc" in card.data.tags
    # Every variant is published, so the table is the report of the whole run.
    assert render(build_report(explorer_smoke_run), "markdown") in card.text
    prose = " ".join(card.text.split())
    assert "Flickr's terms of use" in prose
    assert "The annotations are provided for research use." in prose
    assert "The `resume.pt` training states are left out" in prose
    assert f"python app.py --runs hf://{REPO_ID}" in prose


def test_model_card_only_chosen_variants(explorer_smoke_run):
    choice = publish.parse_weights("last")
    variants = publish.select_variants(explorer_smoke_run, ["none", "spp-uout"])
    files = publish.select_files(explorer_smoke_run, variants, choice)
    with publish.staged_run(explorer_smoke_run, files) as staging:
        text = publish.model_card(staging, REPO_ID, choice)
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert "spp-uout" in rows
    assert "all-chandrop-sched" not in rows
    assert "decoder-dropblock" not in rows


class RecordingApi:
    """Stands in for HfApi in the one non-dry run: records the calls and what the uploaded folder
    contains at upload time (the staging folder is removed afterwards)."""

    calls: list[tuple[str, dict]] = []
    folder_files: dict[str, Path] = {}
    staging: Path | None = None

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        folder = Path(kwargs["folder_path"])
        RecordingApi.staging = folder
        RecordingApi.folder_files = {
            p.relative_to(folder).as_posix(): p.resolve() for p in folder.rglob("*") if p.is_file()
        }

        class Commit:
            oid = "0" * 40

        return Commit()


def test_upload_call_arguments(capsys, monkeypatch, explorer_smoke_run):
    code, out, err = run_cli(
        capsys, str(explorer_smoke_run), "--repo", REPO_ID, "--weights", "best", "--dry-run"
    )
    assert code == 0, err
    listed, _ = parse_listing(out)

    monkeypatch.setattr(publish, "HfApi", RecordingApi)
    code, out, err = run_cli(
        capsys, str(explorer_smoke_run), "--repo", REPO_ID, "--weights", "best", "--private"
    )
    assert code == 0, err
    assert [name for name, _ in RecordingApi.calls] == ["create_repo", "upload_folder"]
    create = RecordingApi.calls[0][1]
    assert create == {"repo_id": REPO_ID, "repo_type": "model", "private": True, "exist_ok": True}
    upload = RecordingApi.calls[1][1]
    assert upload["repo_id"] == REPO_ID
    assert upload["repo_type"] == "model"
    assert "allow_patterns" not in upload

    # The uploaded folder contains exactly the dry run's files, linked to the run's own files.
    assert set(RecordingApi.folder_files) == set(listed)
    for path, target in RecordingApi.folder_files.items():
        if path != "README.md":
            assert target == (explorer_smoke_run / path).resolve()
    assert not RecordingApi.staging.exists()
    assert f"https://huggingface.co/{REPO_ID}" in out
