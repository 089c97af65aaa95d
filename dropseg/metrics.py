"""Segmentation metrics: per-image mIoU, as the tables of Spilsbury and Camps 2019 report it, and
the standard dataset mIoU of PASCAL VOC.

The two differ. Per-image mIoU builds one confusion matrix per image and averages over the
classes present in that image's label or prediction. Dataset mIoU accumulates one confusion
matrix over all images and averages the per-class IoUs. Keep them apart in every report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["ConfusionMatrix", "batch_confusion_matrices", "per_image_miou", "summarize"]


def batch_confusion_matrices(
    pred: Tensor, target: Tensor, num_classes: int = 21, ignore_index: int = 255
) -> Tensor:
    """Return one (num_classes, num_classes) confusion matrix per image, rows indexed by the
    target class and columns by the predicted class.

    Args:
        pred: (N, H, W) integer label map of predictions.
        target: (N, H, W) integer label map; pixels equal to ``ignore_index`` are not counted.

    Returns:
        An (N, num_classes, num_classes) int64 tensor on the device of the inputs.
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(
            f"pred and target must both be (N, H, W), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    batch, cells = pred.shape[0], num_classes * num_classes
    # int32 indices halve the memory traffic; batch * (cells + 1) stays far below 2**31.
    pred = pred.reshape(batch, -1).to(torch.int32)
    target = target.reshape(batch, -1).to(torch.int32)

    ignored = target == ignore_index
    _check_range(pred, num_classes, "predictions")
    _check_range(
        target.masked_fill(ignored, 0), num_classes, f"labels other than ignore_index={ignore_index}"
    )

    # Ignored pixels go to one extra bin per image, which is dropped, so no boolean gather
    # (a copy of the valid pixels) is needed.
    flat = target * num_classes + pred
    flat.masked_fill_(ignored, cells)
    flat += torch.arange(batch, dtype=torch.int32, device=flat.device).unsqueeze(1) * (cells + 1)
    counts = torch.bincount(flat.reshape(-1), minlength=batch * (cells + 1))
    return counts.reshape(batch, cells + 1)[:, :cells].reshape(batch, num_classes, num_classes)


def _check_range(values: Tensor, num_classes: int, description: str) -> None:
    if values.numel() == 0:
        return
    low, high = torch.aminmax(values)
    if int(low) < 0 or int(high) >= num_classes:
        raise ValueError(
            f"{description} must be in [0, {num_classes}), found values in [{int(low)}, {int(high)}]"
        )


def _iou_from_confusion(matrix: Tensor) -> Tensor:
    """IoU per class from (..., K, K) confusion matrices; NaN where a class has an empty union."""
    matrix = matrix.double()
    true_positive = matrix.diagonal(dim1=-2, dim2=-1)
    union = matrix.sum(-1) + matrix.sum(-2) - true_positive
    return torch.where(union > 0, true_positive / union.clamp(min=1), torch.full_like(union, math.nan))


def per_image_miou(pred: Tensor, target: Tensor, num_classes: int = 21, ignore_index: int = 255) -> Tensor:
    """Return the mIoU of each image in a batch of (N, H, W) label maps.

    For every image, the IoU of class c is TP / (TP + FP + FN) over the pixels whose label is
    not ``ignore_index``. The mean covers the classes present in the label or the prediction,
    so classes absent from both are skipped. An image whose pixels are all ignored gets NaN.

    Returns:
        A float64 tensor of shape (N,) on the device of the inputs.
    """
    iou = _iou_from_confusion(batch_confusion_matrices(pred, target, num_classes, ignore_index))
    return iou.nanmean(dim=-1)


class ConfusionMatrix:
    """Accumulates one confusion matrix over a data set for the dataset mIoU."""

    def __init__(self, num_classes: int = 21, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> Tensor:
        """Add a batch of (N, H, W) label maps and return its per-image confusion matrices."""
        per_image = batch_confusion_matrices(pred, target, self.num_classes, self.ignore_index)
        self.matrix += per_image.sum(0).cpu()
        return per_image

    def add(self, matrix: Tensor) -> None:
        """Add a confusion matrix counted elsewhere, such as on another process."""
        self.matrix += matrix.to(self.matrix)

    def reset(self) -> None:
        self.matrix.zero_()

    def per_class_iou(self) -> Tensor:
        """IoU of each class; NaN for a class that occurs in neither labels nor predictions."""
        return _iou_from_confusion(self.matrix)

    def miou(self) -> float:
        """Mean of the per-class IoUs over the classes that occur at all."""
        return float(self.per_class_iou().nanmean())

    def pixel_accuracy(self) -> float:
        total = int(self.matrix.sum())
        return float(self.matrix.diagonal().sum()) / total if total else math.nan


def summarize(values: Sequence[float] | Tensor | np.ndarray) -> dict[str, float]:
    """Summarize per-image values: mean, std (population, ddof=0), worst (min), median and best
    (max), ignoring NaN entries."""
    array = np.asarray(values.cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return {key: math.nan for key in ("mean", "std", "worst", "median", "best")}
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "worst": float(array.min()),
        "median": float(np.median(array)),
        "best": float(array.max()),
    }
