"""The run folder: layout, atomic writes, readers and a validator.

A run folder is what ``python -m training train`` writes and what the explorer reads. Its
format is a versioned public contract, described file by file in ``docs/run-format.md``.
Training writes it and everything else only reads it, so all paths are built here.

Layout (``<v>`` a variant name, ``<s>`` a seed, ``<e>`` an epoch number from 1)::

    run.json
    images/<id>.jpg                       validation view of the photo, max side 256
    images/<id>.png                       its label, palette PNG, same size
    variants/<v>/seed-<s>/resume.pt       resume state of the latest epoch
    variants/<v>/seed-<s>/epoch-<e:03d>/weights.safetensors
    variants/<v>/seed-<s>/epoch-<e:03d>/per_image.json
    variants/<v>/seed-<s>/epoch-<e:03d>/predictions/<id>.png
    variants/<v>/seed-<s>/epoch-<e:03d>/metrics.json   written last: marks the epoch finished

Every file is written through :func:`atomic_write`, so a reader sees either the old file or
the complete new one, never a partial file, whenever the writer dies.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

_logger = logging.getLogger(__name__)

__all__ = [
    "FORMAT_VERSION",
    "EpochPaths",
    "atomic_create_json",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "epoch_paths",
    "finished_epochs",
    "image_paths",
    "json_safe",
    "list_runs",
    "prediction_ids",
    "read_json",
    "read_metrics",
    "read_per_image",
    "read_run",
    "remove_temp_files",
    "resume_path",
    "run_json_path",
    "seed_dir",
    "validate_run",
]

FORMAT_VERSION = 1

RUN_JSON = "run.json"
IMAGES_DIR = "images"
VARIANTS_DIR = "variants"
RESUME_FILE = "resume.pt"
WEIGHTS_FILE = "weights.safetensors"
PER_IMAGE_FILE = "per_image.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_DIR = "predictions"
# Maximum side length, in pixels, of the image copies and predictions stored in a run.
VIEW_MAX_SIDE = 256
# Number of best, middle and worst validation images whose predictions each epoch stores.
RANKED_COUNT = 3
PREDICTION_GROUPS = ("tracked", "best", "middle", "worst")

_SEED_DIR = re.compile(r"^seed-(\d+)$")
_EPOCH_DIR = re.compile(r"^epoch-(\d{3,})$")


# --- atomic writes -------------------------------------------------------------------------


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that it appears complete or not at all.

    ``write`` gets a binary file object in the same folder as ``path``. The data is flushed and
    fsynced, then moved over ``path`` with ``os.replace``, which is atomic on POSIX file
    systems. If anything fails, the temporary file is removed and the error re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def remove_temp_files(folder: str | Path) -> int:
    """Delete the temporary files that writers killed mid-write left under ``folder``; return
    how many. Call it only on folders that no other process is writing."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(json_safe(data), indent=1, sort_keys=False, allow_nan=False) + "\n").encode()


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities by None, because strict JSON has no literal for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_write`."""
    atomic_write(path, lambda stream: stream.write(data))


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as strict JSON (NaN stored as null) through :func:`atomic_write`."""
    atomic_write_bytes(path, _json_bytes(data))


def atomic_create_json(path: str | Path, data: Any) -> bool:
    """Create ``path`` with ``data`` as JSON unless it exists; return True if this call created it.

    The file is written to a temporary name and then hard-linked to ``path``. ``os.link`` fails
    when ``path`` exists, so of several processes racing to create it exactly one succeeds,
    and the others read the winner's complete file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = _json_bytes(data)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            return False
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def png_bytes(label_map: np.ndarray, palette: list[int]) -> bytes:
    """Encode an (H, W) uint8 label map as a palette PNG."""
    image = Image.fromarray(np.asarray(label_map, dtype=np.uint8), mode="P")
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- paths ---------------------------------------------------------------------------------


class EpochPaths:
    """The files of one finished (or in-progress) epoch of one variant and seed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.weights = folder / WEIGHTS_FILE
        self.per_image = folder / PER_IMAGE_FILE
        self.metrics = folder / METRICS_FILE
        self.predictions = folder / PREDICTIONS_DIR

    def prediction(self, image_id: str) -> Path:
        return self.predictions / f"{image_id}.png"


def run_json_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RUN_JSON


def image_paths(run_dir: str | Path, image_id: str) -> tuple[Path, Path]:
    """Return the (photo JPEG, label PNG) copies of a validation image in a run."""
    folder = Path(run_dir) / IMAGES_DIR
    return folder / f"{image_id}.jpg", folder / f"{image_id}.png"


def seed_dir(run_dir: str | Path, variant: str, seed: int) -> Path:
    return Path(run_dir) / VARIANTS_DIR / variant / f"seed-{seed}"


def resume_path(run_dir: str | Path, variant: str, seed: int) -> Path:
    return seed_dir(run_dir, variant, seed) / RESUME_FILE


def epoch_paths(run_dir: str | Path, variant: str, seed: int, epoch: int) -> EpochPaths:
    return EpochPaths(seed_dir(run_dir, variant, seed) / f"epoch-{epoch:03d}")


# --- readers -------------------------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def read_run(run_dir: str | Path) -> dict:
    """Return the parsed ``run.json`` of a run folder.

    Raises:
        FileNotFoundError: if the folder contains no run.
        ValueError: if the run was written in another format version.
    """
    path = run_json_path(run_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no run at {run_dir}: {RUN_JSON} not found")
    run = read_json(path)
    if run.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {run.get('format_version')!r}, "
            f"but this dropseg reads version {FORMAT_VERSION}"
        )
    return run


def list_runs(run_dir: str | Path) -> dict[str, list[int]]:
    """Return the seeds of every variant that has a folder in the run, variants sorted by name."""
    root = Path(run_dir) / VARIANTS_DIR
    found: dict[str, list[int]] = {}
    if not root.is_dir():
        return found
    for variant_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        seeds = sorted(int(m.group(1)) for p in variant_dir.iterdir() if (m := _SEED_DIR.match(p.name)))
        if seeds:
            found[variant_dir.name] = seeds
    return found


def finished_epochs(run_dir: str | Path, variant: str, seed: int) -> list[int]:
    """Return the epochs of a variant and seed whose metrics record exists, ascending."""
    folder = seed_dir(run_dir, variant, seed)
    if not folder.is_dir():
        return []
    epochs = []
    for child in folder.iterdir():
        match = _EPOCH_DIR.match(child.name)
        if match and (child / METRICS_FILE).is_file():
            epochs.append(int(match.group(1)))
    return sorted(epochs)


def read_metrics(run_dir: str | Path, variant: str, seed: int) -> list[dict]:
    """Return the metrics records of every finished epoch of a variant and seed, by epoch."""
    return [
        read_json(epoch_paths(run_dir, variant, seed, e).metrics)
        for e in finished_epochs(run_dir, variant, seed)
    ]


def read_per_image(run_dir: str | Path, variant: str, seed: int, epoch: int) -> dict[str, float]:
    """Return ``{image id: per-image mIoU}`` of one epoch; NaN where an image has no valid pixel."""
    record = read_json(epoch_paths(run_dir, variant, seed, epoch).per_image)
    return {
        image_id: math.nan if value is None else float(value)
        for image_id, value in zip(record["image_ids"], record["per_image_miou"], strict=True)
    }


def prediction_ids(metrics: dict) -> list[str]:
    """Return the ids whose predictions an epoch stores (tracked, best, middle, worst), each once."""
    groups = metrics.get("predictions", {})
    return list(dict.fromkeys(i for group in PREDICTION_GROUPS for i in groups.get(group, [])))


# --- validator -----------------------------------------------------------------------------

RUN_KEYS = (
    "format_version",
    "config",
    "library_versions",
    "train_ids",
    "val_ids",
    "tracked_ids",
    "class_names",
    "palette",
)
METRICS_KEYS = (
    "epoch",
    "variant",
    "seed",
    "drop_prob",
    "learning_rates",
    "train_loss",
    "train_per_image_miou",
    "val_loss",
    "val_miou",
    "per_class_iou",
    "per_image_miou",
    "predictions",
    "seconds",
)
SUMMARY_KEYS = ("mean", "std", "worst", "median", "best")


def validate_run(run_dir: str | Path) -> list[str]:
    """Check a run folder against the format and return the problems found (empty if none).

    Checks run.json's keys and version, and that every finished epoch has its weights,
    per-image values for exactly the validation ids, a metrics record with every key, and a
    prediction PNG per listed id whose image copies exist. Leftover ``*.tmp`` files of a
    killed writer are not problems, because readers ignore them.
    """
    run_dir = Path(run_dir)
    try:
        run = read_run(run_dir)
    except (FileNotFoundError, ValueError, json.JSONDecodeError) as error:
        return [str(error)]

    problems = [f"run.json: missing key {key!r}" for key in RUN_KEYS if key not in run]
    if problems:
        return problems
    if len(run["palette"]) != 768:
        problems.append(f"run.json: palette has {len(run['palette'])} entries, expected 768")
    val_ids = list(run["val_ids"])
    problems += [
        f"run.json: tracked id {i} is not a validation id" for i in run["tracked_ids"] if i not in val_ids
    ]

    for variant, seeds in list_runs(run_dir).items():
        for seed in seeds:
            for epoch in finished_epochs(run_dir, variant, seed):
                problems += _validate_epoch(run_dir, run, variant, seed, epoch)
    return problems


def _validate_epoch(run_dir: Path, run: dict, variant: str, seed: int, epoch: int) -> list[str]:
    paths = epoch_paths(run_dir, variant, seed, epoch)
    where = f"{variant}/seed-{seed}/epoch-{epoch:03d}"
    problems = []
    metrics = read_json(paths.metrics)
    problems += [f"{where}: metrics.json misses key {key!r}" for key in METRICS_KEYS if key not in metrics]
    if metrics.get("epoch") != epoch:
        problems.append(f"{where}: metrics.json has epoch {metrics.get('epoch')}")
    summary = metrics.get("per_image_miou", {})
    problems += [f"{where}: per_image_miou misses {key!r}" for key in SUMMARY_KEYS if key not in summary]
    if len(metrics.get("per_class_iou", [])) != len(run["class_names"]):
        problems.append(f"{where}: per_class_iou does not have one value per class")

    if not paths.weights.is_file():
        problems.append(f"{where}: {WEIGHTS_FILE} missing")
    if not paths.per_image.is_file():
        problems.append(f"{where}: {PER_IMAGE_FILE} missing")
    elif read_json(paths.per_image).get("image_ids") != run["val_ids"]:
        problems.append(f"{where}: per_image.json ids differ from the run's val_ids")

    for image_id in prediction_ids(metrics):
        if not paths.prediction(image_id).is_file():
            problems.append(f"{where}: prediction of {image_id} missing")
        photo, label = image_paths(run_dir, image_id)
        if not (photo.is_file() and label.is_file()):
            problems.append(f"{where}: image copy of {image_id} missing")
    return problems
