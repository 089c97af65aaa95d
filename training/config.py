"""Resolved training configuration: the study settings that define a run, and the execution
settings that only describe how and where it runs.

Study settings are stored in ``run.json``; two commands may write into the same run folder
only if their study settings are equal. Execution settings (data path, device, variant
selection, shard, workers) may differ between the processes of one run, for example between
the shards of a Slurm array.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dropseg.data.transforms import MIN_CROP_SIZE
from dropseg.models import BACKBONES

from .presets import preset_defaults

__all__ = ["UNSET", "ConfigError", "ExecutionConfig", "StudyConfig", "config_differences", "resolve_study"]


# An override value that sets an optional setting to None ("no cap", "full size"). A plain None
# override keeps the preset's value instead.
UNSET = object()


class ConfigError(ValueError):
    """An invalid setting; the message names the setting, its value and the valid range."""


@dataclass(frozen=True)
class StudyConfig:
    """Every setting that changes what a run computes. Units: pixels for sizes, epochs for
    ``epochs``, shares in [0, 1] for fractions and probabilities."""

    preset: str
    backbone: str
    pretrained_backbone: str | None
    output_stride: int
    aspp_channels: int
    decoder_channels: int
    low_level_channels: int
    crop_size: int
    train_base_size: int | None
    scale_range: tuple[float, float]
    batch_size: int
    epochs: int
    ramp_fraction: float
    train_fraction: float
    subset_seed: int
    max_train_images: int | None
    max_val_images: int | None
    drop_prob: float
    dropblock_size: int
    lr: float
    head_lr_multiplier: float
    momentum: float
    weight_decay: float
    poly_power: float
    seed: int
    seeds: int
    track: tuple[str, ...] | None
    official_full: bool

    @property
    def ramp_epochs(self) -> float:
        """Epochs over which -sched variants ramp the drop probability from 0 to ``drop_prob``."""
        return self.ramp_fraction * self.epochs

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + offset for offset in range(self.seeds)]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["track"] = None if self.track is None else list(self.track)
        data["scale_range"] = list(self.scale_range)
        return data


@dataclass(frozen=True)
class ExecutionConfig:
    """Settings that do not change the results of a run (up to floating-point order on GPUs)."""

    data: Path
    out: Path
    variants: tuple[str, ...]
    device: str = "auto"
    shard_index: int = 0
    shard_count: int = 1
    workers: int = 0
    resume: bool = False
    sync_bn: bool = False


def resolve_study(preset: str, overrides: dict[str, Any]) -> StudyConfig:
    """Apply command-line ``overrides`` to a preset and check the result. None values keep the
    preset's setting; :data:`UNSET` values set it to None.

    Raises:
        ConfigError: naming the first invalid setting.
    """
    try:
        settings = preset_defaults(preset)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    settings.update(
        {key: None if value is UNSET else value for key, value in overrides.items() if value is not None}
    )
    if settings["track"] is not None:
        settings["track"] = tuple(settings["track"])
    settings["scale_range"] = tuple(settings["scale_range"])
    config = StudyConfig(preset=preset, **settings)
    _check(config)
    return config


def _check(config: StudyConfig) -> None:
    if config.backbone not in BACKBONES:
        raise ConfigError(f"invalid backbone {config.backbone!r}; valid backbones: {', '.join(BACKBONES)}")
    if config.output_stride not in (8, 16):
        raise ConfigError(f"invalid output_stride {config.output_stride}; use 8 or 16")
    if config.crop_size < MIN_CROP_SIZE:
        raise ConfigError(f"invalid crop size {config.crop_size}: must be at least {MIN_CROP_SIZE} pixels")
    if config.train_base_size is not None and config.train_base_size < MIN_CROP_SIZE:
        raise ConfigError(
            f"invalid train base size {config.train_base_size}: must be at least {MIN_CROP_SIZE} pixels"
        )
    low, high = config.scale_range
    if not 0.0 < low <= high:
        raise ConfigError(f"invalid scale range {low}..{high}: need 0 < low <= high")
    if not 0.0 < config.train_fraction <= 1.0:
        raise ConfigError(f"invalid train fraction {config.train_fraction}: must be in (0, 1]")
    if not 0.0 <= config.drop_prob < 1.0:
        raise ConfigError(f"invalid drop probability {config.drop_prob}: must be in [0, 1)")
    if not 0.0 <= config.ramp_fraction <= 1.0:
        raise ConfigError(f"invalid ramp fraction {config.ramp_fraction}: must be in [0, 1]")
    positive = {
        "epochs": config.epochs,
        "batch size": config.batch_size,
        "seeds": config.seeds,
        "aspp channels": config.aspp_channels,
        "decoder channels": config.decoder_channels,
        "low-level channels": config.low_level_channels,
        "max train images": config.max_train_images or 1,
        "max val images": config.max_val_images or 1,
    }
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"invalid {name} {value}: must be a positive integer")
    if config.dropblock_size < 1 or config.dropblock_size % 2 == 0:
        raise ConfigError(f"invalid DropBlock size {config.dropblock_size}: must be a positive odd number")
    if config.lr <= 0 or config.head_lr_multiplier <= 0:
        raise ConfigError(
            f"invalid learning rate {config.lr} x {config.head_lr_multiplier}: both must be positive"
        )
    if config.seed < 0:
        raise ConfigError(f"invalid seed {config.seed}: must be non-negative")


def config_differences(stored: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """Return ``"name: stored -> requested"`` for every setting whose value differs."""
    keys = list(dict.fromkeys([*stored, *requested]))
    return [
        f"{key}: {stored.get(key)!r} -> {requested.get(key)!r}"
        for key in keys
        if stored.get(key) != requested.get(key)
    ]
