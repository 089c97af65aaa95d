"""Matplotlib figures (curves over epochs, per-image mIoU box plots) and image renderings
(disagreement and uncertainty maps) for the views."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

__all__ = ["box_plot", "curves_figure", "disagreement_map", "entropy_image"]

DISAGREEMENT_COLOR = np.array([230, 25, 75], dtype=np.float32)


def curves_figure(series: dict[str, list[dict]], current_epoch: int | None = None) -> Figure:
    """Plot validation mean per-image mIoU, dataset mIoU and losses over epochs per variant.

    Args:
        series: variant name -> its metrics records in epoch order.
        current_epoch: drawn as a vertical line on both panels when given.
    """
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    miou_axes, loss_axes = figure.subplots(1, 2)
    for index, (variant, records) in enumerate(series.items()):
        color = f"C{index % 10}"
        epochs = [r["epoch"] for r in records]
        miou_axes.plot(
            epochs, [r["per_image_miou"]["mean"] for r in records], color=color, marker=".", label=variant
        )
        miou_axes.plot(epochs, [r["val_miou"] for r in records], color=color, linestyle=":")
        loss_axes.plot(epochs, [r["val_loss"] for r in records], color=color, marker=".", label=variant)
        loss_axes.plot(epochs, [r["train_loss"] for r in records], color=color, linestyle="--")
    miou_axes.set(xlabel="epoch", ylabel="mIoU", title="val mIoU: per-image mean (solid), dataset (dotted)")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="loss: val (solid), train (dashed)")
    for axes in (miou_axes, loss_axes):
        if current_epoch is not None:
            axes.axvline(current_epoch, color="black", linewidth=1, alpha=0.6)
        axes.grid(alpha=0.3)
    if series:
        miou_axes.legend(fontsize="small")
    return figure


def box_plot(values: dict[str, np.ndarray]) -> Figure:
    """Draw one box of per-image mIoU per variant (NaN values left out), in the given order."""
    figure = Figure(figsize=(max(6.0, 0.55 * len(values) + 2), 3.8), layout="constrained")
    axes = figure.subplots()
    names = list(values)
    data = [
        np.asarray(v, dtype=np.float64)[~np.isnan(np.asarray(v, dtype=np.float64))] for v in values.values()
    ]
    if names:
        axes.boxplot(data, tick_labels=names, showmeans=True)
    axes.set(ylabel="per-image mIoU", title="Validation per-image mIoU at each variant's best epoch")
    axes.tick_params(axis="x", labelrotation=60, labelsize="small")
    axes.grid(axis="y", alpha=0.3)
    return figure


def disagreement_map(photo: Image.Image, label_maps: list[np.ndarray]) -> tuple[Image.Image, float]:
    """Mark in red the pixels where the label maps do not all agree, over a dimmed grayscale photo.

    Returns the map and the share of disagreeing pixels in [0, 1].
    """
    stack = np.stack(label_maps)
    disagree = (stack != stack[0]).any(axis=0)
    gray = np.asarray(photo.convert("L"), dtype=np.float32)[..., None].repeat(3, axis=2) * 0.6
    gray[disagree] = DISAGREEMENT_COLOR
    return Image.fromarray(gray.round().astype(np.uint8)), float(disagree.mean())


def entropy_image(entropy: np.ndarray) -> Image.Image:
    """Render a normalized entropy map in [0, 1] with the ``magma`` colormap (bright = uncertain)."""
    colors = colormaps["magma"](np.clip(np.asarray(entropy, dtype=np.float32), 0.0, 1.0))
    return Image.fromarray((colors[..., :3] * 255).round().astype(np.uint8))
