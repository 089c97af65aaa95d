"""Prediction and Monte Carlo dropout for one image, with a cache keyed by (image hash, model, passes)."""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from dropseg.models import DeepLabV3Plus, input_normalization
from dropseg.regularizers import iter_regularizers

from .cache import ByteBudgetLRU
from .store import VariantKey
from .weights import ModelCache

__all__ = ["MAX_MC_PASSES", "Prediction", "Predictor", "image_hash"]

# Upper bound on Monte Carlo passes per request, so one request cannot hold the CPU for minutes.
MAX_MC_PASSES = 32
# Memory for cached predictions, in bytes: about 700 entries of a 513 x 513 label map with its
# float16 entropy map.
PREDICTION_BUDGET_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Prediction:
    """A label map and, for Monte Carlo dropout, the per-pixel predictive entropy normalized
    to [0, 1] by log(number of classes)."""

    labels: np.ndarray
    entropy: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return self.labels.nbytes + (0 if self.entropy is None else self.entropy.nbytes)


def image_hash(image: Image.Image) -> str:
    """Return a SHA-256 digest of an image's pixels and size, the identity of an input."""
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


class Predictor:
    """Runs the cached models on images, one forward pass at a time.

    One lock serializes forward passes: a Monte Carlo request switches the regularizers of a
    shared model to train mode, and serial passes on a small CPU are no slower than parallel
    ones fighting over the cores.
    """

    def __init__(self, models: ModelCache) -> None:
        self.models = models
        self.cache: ByteBudgetLRU[Prediction] = ByteBudgetLRU(PREDICTION_BUDGET_BYTES, lambda p: p.nbytes)
        self._forward_lock = threading.Lock()

    def predict(self, image: Image.Image, key: VariantKey, epoch: int, passes: int = 0) -> Prediction:
        """Segment an RGB image with a variant at an epoch.

        Args:
            image: the input at the size to predict at; the labels have the same size.
            passes: 0 for one deterministic pass, or the number of Monte Carlo passes with the
                variant's regularizers active and BatchNorm in eval mode. The labels are then
                the argmax of the mean probabilities.
        """
        if not 0 <= passes <= MAX_MC_PASSES:
            raise ValueError(f"Monte Carlo passes must be in [0, {MAX_MC_PASSES}], got {passes}")
        cache_key = (image_hash(image), key, epoch, passes)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached

        model = self.models.model(key, epoch)
        batch = _to_batch(image, model.backbone_name)
        with self._forward_lock, torch.inference_mode():
            if passes == 0:
                probabilities = F.softmax(model(batch), dim=1)
            else:
                probabilities = _monte_carlo(model, batch, passes)
        labels = probabilities.argmax(dim=1)[0].to(torch.uint8).numpy()
        entropy = None
        if passes:
            p = probabilities[0].clamp_min(1e-12)
            entropy = (-(p * p.log()).sum(dim=0) / math.log(p.shape[0])).to(torch.float16).numpy()
        prediction = Prediction(labels, entropy)
        self.cache.put(cache_key, prediction)
        return prediction


def _to_batch(image: Image.Image, backbone: str) -> torch.Tensor:
    mean, std = input_normalization(backbone)
    tensor = TF.to_dtype(TF.pil_to_tensor(image.convert("RGB")), torch.float32, scale=True)
    return TF.normalize(tensor, list(mean), list(std)).unsqueeze(0)


def _monte_carlo(model: DeepLabV3Plus, batch: torch.Tensor, passes: int) -> torch.Tensor:
    """Return the mean softmax of ``passes`` forward passes with only the regularizers in
    train mode, restoring eval mode afterwards."""
    regularizers = list(iter_regularizers(model))
    try:
        for module in regularizers:
            module.train()
        total = torch.zeros(())
        for _ in range(passes):
            total = total + F.softmax(model(batch), dim=1)
        return total / passes
    finally:
        for module in regularizers:
            module.eval()
