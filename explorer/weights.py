"""Lazy loading of epoch weights into models, kept in an LRU cache bounded by a memory budget."""

from __future__ import annotations

import logging

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from dropseg import build_model
from dropseg.models import DeepLabV3Plus

from .cache import ByteBudgetLRU
from .store import RunStore, StoreError, VariantKey

_logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_BUDGET_MB", "WeightsError", "ModelCache"]

# Default memory budget for loaded models, in MiB: four ResNet-101 DeepLabV3+ models in float32
# (about 240 MiB each), so the four variants of one comparison stay loaded together.
DEFAULT_BUDGET_MB = 1024


class WeightsError(StoreError):
    """The weights file of one variant and epoch is missing or cannot be loaded."""


def model_bytes(model: torch.nn.Module) -> int:
    """Return the memory, in bytes, of a model's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


class ModelCache:
    """Builds the model of (run, variant, seed, epoch) on first use and keeps recent ones.

    Models are float32 on the CPU in eval mode. Callers must not change their mode for longer
    than one guarded forward pass (see :mod:`explorer.inference`).
    """

    def __init__(self, store: RunStore, budget_mb: int = DEFAULT_BUDGET_MB) -> None:
        self.store = store
        self.cache: ByteBudgetLRU[DeepLabV3Plus] = ByteBudgetLRU(budget_mb * 2**20, model_bytes)

    def model(self, key: VariantKey, epoch: int) -> DeepLabV3Plus:
        cache_key = (key, epoch)
        model = self.cache.get(cache_key)
        if model is None:
            model = self._load(key, epoch)
            self.cache.put(cache_key, model)
        return model

    def _trained_drop_prob(self, key: VariantKey, epoch: int, configured: float) -> float:
        """Return the drop probability that the weights of ``epoch`` were trained with.

        ``-sched`` variants ramp it up over the epochs, so Monte Carlo passes at an early epoch
        must drop less than the configured value. An unreadable record falls back to that value.
        """
        try:
            trained = float(self.store.metrics(key, epoch)["drop_prob"])
        except (StoreError, KeyError, TypeError, ValueError):
            return configured
        return trained if 0.0 <= trained < 1.0 else configured

    def _load(self, key: VariantKey, epoch: int) -> DeepLabV3Plus:
        config = self.store.run_record(key.run)["config"]
        path = self.store.weights_file(key, epoch)
        where = f"weights of {key.variant} epoch {epoch} ({path.name})"
        if not path.is_file():
            raise WeightsError(f"{where} are missing; retrain that epoch or pick another")
        try:
            state = load_file(path)
        except (SafetensorError, OSError, ValueError) as error:
            _logger.warning("cannot load %s: %s", path, error)
            raise WeightsError(
                f"{where} are unreadable ({error}); retrain that epoch or pick another"
            ) from None

        model = build_model(
            key.variant,
            backbone=config["backbone"],
            output_stride=config["output_stride"],
            pretrained_backbone=None,
            drop_prob=self._trained_drop_prob(key, epoch, config["drop_prob"]),
            aspp_channels=config["aspp_channels"],
            decoder_channels=config["decoder_channels"],
            low_level_channels=config["low_level_channels"],
            dropblock_size=config["dropblock_size"],
        )
        try:
            model.load_state_dict({name: tensor.float() for name, tensor in state.items()}, strict=True)
        except RuntimeError as error:
            raise WeightsError(f"{where} do not fit the run's model configuration: {error}") from None
        _logger.info("loaded %s of run %s", where, key.run)
        return model.eval()
