"""Per-image mIoU figures published by Spilsbury and Camps 2019, "Don't ignore Dropout in Fully
Convolutional Networks" (https://arxiv.org/abs/1908.09162), Tables 1 and 2.

The values are the mean, standard deviation, worst (minimum), median and best (maximum)
per-image validation mIoU of each variant at its best epoch, on the full VOC 2012 ``val``
split with ResNet-101 and a 10% class-balanced training subset. They are stored as printed;
the "best" of 0.54 for ``backbone-chandrop-sched`` is below its own median and is likely a
misprint. ``pretrained-base`` is torchvision's ``deeplabv3_resnet101`` trained on COCO with
VOC labels, evaluated without further training.
"""

from __future__ import annotations

__all__ = ["PUBLISHED_PER_IMAGE_MIOU", "SUMMARY_FIELDS", "published_summary"]

SUMMARY_FIELDS = ("mean", "std", "worst", "median", "best")


def _row(mean: float, std: float, worst: float, median: float, best: float) -> dict[str, float]:
    return dict(zip(SUMMARY_FIELDS, (mean, std, worst, median, best), strict=True))


PUBLISHED_PER_IMAGE_MIOU: dict[str, dict[str, float]] = {
    "pretrained-base": _row(0.81, 0.09, 0.55, 0.82, 0.99),
    "none": _row(0.49, 0.10, 0.26, 0.50, 0.65),
    "backbone-chandrop": _row(0.56, 0.09, 0.35, 0.50, 0.77),
    "backbone-chandrop-sched": _row(0.53, 0.11, 0.30, 0.50, 0.54),
    "spp-chandrop": _row(0.54, 0.10, 0.28, 0.53, 0.74),
    "spp-chandrop-sched": _row(0.50, 0.10, 0.28, 0.51, 0.75),
    "decoder-chandrop": _row(0.50, 0.09, 0.32, 0.53, 0.67),
    "decoder-chandrop-sched": _row(0.47, 0.09, 0.28, 0.48, 0.68),
    "upper-chandrop": _row(0.49, 0.09, 0.28, 0.50, 0.68),
    "upper-chandrop-sched": _row(0.53, 0.10, 0.34, 0.53, 0.74),
    "all-chandrop": _row(0.55, 0.11, 0.27, 0.55, 0.76),
    "all-chandrop-sched": _row(0.59, 0.09, 0.39, 0.59, 0.78),
    "backbone-dropblock": _row(0.45, 0.10, 0.21, 0.45, 0.74),
    "backbone-dropblock-sched": _row(0.51, 0.10, 0.28, 0.52, 0.69),
    "spp-dropblock": _row(0.47, 0.09, 0.29, 0.46, 0.72),
    "spp-dropblock-sched": _row(0.52, 0.11, 0.31, 0.52, 0.75),
    "decoder-dropblock": _row(0.51, 0.09, 0.34, 0.50, 0.68),
    "decoder-dropblock-sched": _row(0.55, 0.11, 0.32, 0.56, 0.73),
    "upper-dropblock": _row(0.51, 0.10, 0.30, 0.51, 0.77),
    "upper-dropblock-sched": _row(0.53, 0.13, 0.29, 0.57, 0.74),
    "all-dropblock": _row(0.48, 0.10, 0.28, 0.47, 0.69),
    "all-dropblock-sched": _row(0.49, 0.10, 0.28, 0.47, 0.69),
    "backbone-uout": _row(0.50, 0.11, 0.31, 0.49, 0.74),
    "backbone-uout-sched": _row(0.50, 0.11, 0.31, 0.49, 0.74),
    "spp-uout": _row(0.50, 0.11, 0.29, 0.50, 0.74),
    "spp-uout-sched": _row(0.50, 0.10, 0.28, 0.51, 0.75),
    "decoder-uout": _row(0.48, 0.10, 0.31, 0.45, 0.72),
    "decoder-uout-sched": _row(0.50, 0.10, 0.34, 0.49, 0.78),
    "upper-uout": _row(0.56, 0.09, 0.31, 0.57, 0.72),
    "upper-uout-sched": _row(0.52, 0.12, 0.23, 0.54, 0.79),
    "all-uout": _row(0.52, 0.10, 0.31, 0.51, 0.76),
    "all-uout-sched": _row(0.51, 0.11, 0.29, 0.52, 0.76),
}


def published_summary(variant: str) -> dict[str, float] | None:
    """Return the published summary of a variant name, or None if the paper has no row for it."""
    return PUBLISHED_PER_IMAGE_MIOU.get(variant)
