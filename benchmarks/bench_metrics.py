"""Time per_image_miou on a batch of eight 513 x 513 label maps.

Usage: python benchmarks/bench_metrics.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from dropseg.metrics import per_image_miou


def per_image_miou_loop(pred: np.ndarray, target: np.ndarray, num_classes: int = 21) -> list[float]:
    """Compute per-image mIoU with a NumPy loop over images and classes, as a point of comparison."""
    values = []
    for p, t in zip(pred, target, strict=True):
        valid = t != 255
        ious = []
        for cls in range(num_classes):
            union = np.count_nonzero(((p == cls) | (t == cls)) & valid)
            if union:
                ious.append(np.count_nonzero((p == cls) & (t == cls) & valid) / union)
        values.append(float(np.mean(ious)))
    return values


def time_call(function, repeats: int) -> list[float]:
    function()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per method (default: 50)")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 21, (8, 513, 513), generator=generator)
    target[:, :, :20] = 255
    pred = torch.where(torch.rand(8, 513, 513, generator=generator) < 0.7, target, torch.zeros_like(target))
    pred[pred == 255] = 0
    pred_np, target_np = pred.numpy(), target.numpy()

    np.testing.assert_allclose(per_image_miou(pred, target).numpy(), per_image_miou_loop(pred_np, target_np))
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )
    for name, function in [
        ("per_image_miou (bincount)", lambda: per_image_miou(pred, target)),
        ("NumPy loop per image and class", lambda: per_image_miou_loop(pred_np, target_np)),
    ]:
        timings = time_call(function, args.repeats if "bincount" in name else max(3, args.repeats // 10))
        print(
            f"{name:32s} median {statistics.median(timings) * 1000:8.1f} ms  "
            f"min {min(timings) * 1000:8.1f} ms  ({len(timings)} calls)"
        )


if __name__ == "__main__":
    main()
