"""``python -m training`` end to end on real VOC images with the smoke preset."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from dropseg import runs
from dropseg.data import class_balanced_subset, class_presence, read_split
from dropseg.labels import palette_bytes
from training.cli import _study_from_args, build_parser, main
from training.config import resolve_study
from training.download import existing_voc

REPO_ROOT = Path(__file__).resolve().parent.parent
SMOKE_VARIANTS = "none,all-chandrop-sched"


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def smoke_run(voc_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke") / "run"
    result = run_cli(
        "train", "--preset", "smoke", "--data", str(voc_root), "--out", str(out), "--variants", SMOKE_VARIANTS
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_smoke_run_matches_format(smoke_run):
    assert runs.validate_run(smoke_run) == []


@pytest.mark.slow
def test_smoke_run_files(smoke_run):
    run = runs.read_run(smoke_run)

    assert run["config"]["preset"] == "smoke"
    assert len(run["train_ids"]) == 8
    assert len(run["val_ids"]) == 8
    assert run["palette"] == palette_bytes()
    assert run["tracked_ids"]
    assert runs.list_runs(smoke_run) == {"all-chandrop-sched": [0], "none": [0]}
    for variant in ("none", "all-chandrop-sched"):
        assert runs.finished_epochs(smoke_run, variant, 0) == [1, 2]
        assert runs.resume_path(smoke_run, variant, 0).is_file()

    paths = runs.epoch_paths(smoke_run, "all-chandrop-sched", 0, 2)
    weights = load_file(paths.weights)
    assert weights["decoder.classifier.weight"].dtype == torch.float16
    metrics = json.loads(paths.metrics.read_text())
    assert metrics["drop_prob"] == pytest.approx(0.2)
    assert metrics["learning_rates"]["head"] == pytest.approx(10 * metrics["learning_rates"]["backbone"])
    assert 0.0 <= metrics["per_image_miou"]["mean"] <= 1.0
    assert metrics["predictions"]["tracked"] == run["tracked_ids"]
    assert len(metrics["predictions"]["best"]) == runs.RANKED_COUNT

    image_id = run["tracked_ids"][0]
    prediction = Image.open(paths.prediction(image_id))
    photo_path, label_path = runs.image_paths(smoke_run, image_id)
    assert prediction.mode == "P"
    assert prediction.size == Image.open(photo_path).size == Image.open(label_path).size


@pytest.mark.slow
def test_resume_state_loads_weights_only(smoke_run):
    state = torch.load(runs.resume_path(smoke_run, "none", 0), weights_only=True)

    assert state["epoch"] == 2
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "drop_schedule"}
    assert state["model"]["decoder.classifier.weight"].dtype == torch.float32


@pytest.mark.slow
def test_smoke_run_subset_from_config(smoke_run, voc_root):
    run = runs.read_run(smoke_run)
    config = run["config"]
    train_split = read_split(voc_root, "train")
    expected = class_balanced_subset(class_presence(voc_root, train_split), config["train_fraction"])

    assert run["train_ids"] == expected[: config["max_train_images"]]
    assert run["val_ids"] == read_split(voc_root, "val")[: config["max_val_images"]]


@pytest.mark.slow
@pytest.mark.parametrize("output_format", ["markdown", "csv", "json"])
def test_report_reads_run(smoke_run, output_format, capsys):
    assert main(["report", str(smoke_run), "--format", output_format]) == 0
    text = capsys.readouterr().out

    if output_format == "json":
        report = json.loads(text)
        variants = [row["variant"] for row in report["rows"]]
        assert report["comparisons"][0]["variant"] == "all-chandrop-sched"
        assert report["comparisons"][0]["images"] == 8
    elif output_format == "csv":
        variants = [row["variant"] for row in csv.DictReader(io.StringIO(text))]
    else:
        variants = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert "none" in variants
    assert "all-chandrop-sched" in variants
    assert "pretrained-base" in variants


@pytest.mark.slow
def test_rerun_same_command_is_noop(smoke_run, voc_root):
    before = {p: p.stat().st_mtime_ns for p in smoke_run.rglob("metrics.json")}

    assert (
        main(
            [
                "train",
                "--preset",
                "smoke",
                "--data",
                str(voc_root),
                "--out",
                str(smoke_run),
                "--variants",
                "none",
            ]
        )
        == 0
    )
    assert {p: p.stat().st_mtime_ns for p in smoke_run.rglob("metrics.json")} == before


@pytest.mark.slow
def test_config_mismatch_names_setting(smoke_run, voc_root, capsys):
    args = [
        "train",
        "--preset",
        "smoke",
        "--data",
        str(voc_root),
        "--out",
        str(smoke_run),
        "--crop-size",
        "97",
    ]
    before = sorted(smoke_run.rglob("*"))

    assert main(args) == 2
    error = capsys.readouterr().err
    assert "different configuration" in error
    assert "crop_size: 65 -> 97" in error
    assert sorted(smoke_run.rglob("*")) == before


def _bad_input_cases(voc_root: Path) -> list[tuple[list[str], str]]:
    smoke = ["train", "--preset", "smoke"]
    return [
        ([*smoke, "--data", "/nonexistent/voc"], "no VOC 2012 data set"),
        (
            [*smoke, "--data", str(voc_root), "--variants", "none,middle-chandrop"],
            "unknown variant 'middle-chandrop'",
        ),
        ([*smoke, "--data", str(voc_root), "--crop-size", "8"], "invalid crop size 8"),
        ([*smoke, "--data", str(voc_root), "--train-fraction", "2"], "invalid train fraction 2.0"),
        ([*smoke, "--data", str(voc_root), "--track", "2007_999999"], "tracked ids 2007_999999"),
        ([*smoke, "--data", str(voc_root), "--shard", "3/2"], "invalid shard 3/2"),
    ]


@pytest.mark.parametrize("case", range(6))
def test_bad_input_exit_2_writes_nothing(case, voc_root, tmp_path, capsys):
    args, message = _bad_input_cases(voc_root)[case]
    out = tmp_path / "run"

    assert main([*args, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert message in error
    assert len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_ids_without_files_rejected(voc_root, tmp_path, capsys):
    # A copy of the data set whose val list names an image that has no files.
    fake_root = tmp_path / "voc"
    source = voc_root / "VOCdevkit" / "VOC2012"
    target = fake_root / "VOCdevkit" / "VOC2012"
    (target / "ImageSets" / "Segmentation").mkdir(parents=True)
    for folder in ("JPEGImages", "SegmentationClass"):
        (target / folder).symlink_to(source / folder)
    lists = source / "ImageSets" / "Segmentation"
    (target / "ImageSets" / "Segmentation" / "train.txt").write_text((lists / "train.txt").read_text())
    (target / "ImageSets" / "Segmentation" / "val.txt").write_text(
        "2007_999998\n" + (lists / "val.txt").read_text()
    )
    out = tmp_path / "run"

    assert main(["train", "--preset", "smoke", "--data", str(fake_root), "--out", str(out)]) == 2
    assert "2007_999998" in capsys.readouterr().err
    assert not out.exists()


def test_help_lists_units_and_defaults():
    result = run_cli("train", "--help")

    assert result.returncode == 0
    assert "pixels" in result.stdout
    assert "paper 513, cpu 129, smoke 65" in result.stdout


def test_words_lift_caps_and_base_size(voc_root, tmp_path):
    words = ["--max-val-images", "all", "--max-train-images", "all", "--train-base-size", "full"]
    args = build_parser().parse_args(
        ["train", "--preset", "smoke", "--data", str(voc_root), "--out", str(tmp_path), *words]
    )

    study = _study_from_args(args)

    assert (study.max_val_images, study.max_train_images, study.train_base_size) == (None, None, None)
    assert resolve_study("smoke", {}).max_val_images == 8


def test_unknown_word_for_a_cap_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "--preset", "smoke", "--out", "x", "--max-val-images", "many"])

    assert exit_info.value.code == 2
    assert "invalid value 'many': use a whole number or 'all'" in capsys.readouterr().err


def test_download_voc_existing_folder(voc_root, capsys):
    assert existing_voc(voc_root) == voc_root
    assert main(["download-voc", "--root", str(voc_root)]) == 0
    assert f"--data {voc_root}" in capsys.readouterr().out


@pytest.mark.slow
def test_seeds_and_shards_share_run(voc_root, tmp_path):
    out = tmp_path / "run"
    common = ["train", "--preset", "smoke", "--data", str(voc_root), "--out", str(out), "--epochs", "1"]
    common += ["--variants", "none,spp-uout,decoder-dropblock", "--seeds", "2", "--max-val-images", "4"]

    assert main([*common, "--shard", "1/2"]) == 0
    assert runs.list_runs(out) == {"spp-uout": [0, 1]}
    assert main([*common, "--shard", "0/2"]) == 0
    assert runs.list_runs(out) == {"decoder-dropblock": [0, 1], "none": [0, 1], "spp-uout": [0, 1]}
    assert runs.validate_run(out) == []

    seed0 = runs.read_metrics(out, "none", 0)[0]
    seed1 = runs.read_metrics(out, "none", 1)[0]
    assert seed0["train_loss"] != seed1["train_loss"]

    report = json.loads(run_cli("report", str(out), "--format", "json").stdout)
    rows = {row["variant"]: row for row in report["rows"]}
    assert rows["none"]["seeds"] == 2
    assert rows["none"]["mean_spread"] is not None
    assert rows["none"]["mean"] == pytest.approx(
        (seed0["per_image_miou"]["mean"] + seed1["per_image_miou"]["mean"]) / 2
    )
