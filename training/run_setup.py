"""Check the inputs of a training command and create (or join) its run folder.

Everything that can be wrong with the input is checked before the first file is written, so
a rejected command leaves the output folder as it was.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import timm
import torch
import torchvision

import dropseg
from dropseg import runs
from dropseg.data import find_voc_root
from dropseg.labels import VOC_CLASSES, palette_bytes
from dropseg.variants import parse_variant

from .config import ConfigError, ExecutionConfig, StudyConfig, config_differences
from .data import DataSelection, select_data

_logger = logging.getLogger(__name__)

__all__ = ["PreparedRun", "create_run", "prepare_run", "shard_variants"]

# run.json entries that must match for a second command to write into an existing run.
_IDENTITY_KEYS = ("config", "train_ids", "val_ids", "tracked_ids")


@dataclass(frozen=True)
class PreparedRun:
    """A checked command: the VOC root, the chosen ids, this process's variants and run.json."""

    root: Path
    selection: DataSelection
    variants: list[str]
    run_record: dict


def shard_variants(variants: list[str], shard_index: int, shard_count: int) -> list[str]:
    """Return shard ``shard_index`` (0-based) of ``shard_count``: every ``shard_count``-th variant
    of the stable order, starting at ``shard_index``, so shards get near-equal shares."""
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ConfigError(f"invalid shard {shard_index}/{shard_count}: use I/N with 0 <= I < N")
    return variants[shard_index::shard_count]


def prepare_run(study: StudyConfig, execution: ExecutionConfig) -> PreparedRun:
    """Check data, variants and any existing run in the output folder; write nothing.

    Raises:
        FileNotFoundError: if the data folder, a split list or an image is missing.
        ConfigError: for an invalid setting or a run folder holding another configuration.
    """
    for name in execution.variants:
        try:
            parse_variant(name)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    variants = shard_variants(list(execution.variants), execution.shard_index, execution.shard_count)

    root = find_voc_root(execution.data)
    selection = select_data(root, study)
    record = build_run_record(study, selection)
    _check_existing(execution.out, record)
    return PreparedRun(root, selection, variants, record)


def build_run_record(study: StudyConfig, selection: DataSelection) -> dict:
    """Build the content of ``run.json`` (see docs/run-format.md)."""
    return {
        "format_version": runs.FORMAT_VERSION,
        "config": study.to_dict(),
        "seeds": study.seed_list,
        "library_versions": {
            "dropseg": dropseg.__version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "timm": timm.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "train_ids": selection.train_ids,
        "val_ids": selection.val_ids,
        "tracked_ids": selection.tracked_ids,
        "class_names": list(VOC_CLASSES),
        "palette": palette_bytes()[: 3 * 256],
        "image_view": {"crop_size": study.crop_size, "max_side": runs.VIEW_MAX_SIDE},
    }


def _check_existing(out: Path, record: dict) -> None:
    path = runs.run_json_path(out)
    if not path.exists():
        return
    try:
        stored = runs.read_run(out)
    except ValueError as error:
        raise ConfigError(f"{out} contains a run this version cannot continue: {error}") from None
    differences = []
    for key in _IDENTITY_KEYS:
        if key == "config":
            differences += config_differences(stored.get("config", {}), record["config"])
        elif stored.get(key) != record[key]:
            differences.append(f"{key}: the stored list differs from the requested one")
    if differences:
        raise ConfigError(
            f"{out} contains a run with a different configuration ({'; '.join(differences)}); "
            "use another --out folder or the stored settings"
        )


def create_run(out: Path, record: dict) -> None:
    """Create ``run.json`` atomically, or accept the one another shard created at the same time
    if it has the same configuration."""
    if runs.atomic_create_json(runs.run_json_path(out), record):
        _logger.info("created run %s", out)
        return
    _check_existing(out, record)
    _logger.info("continuing run %s", out)
