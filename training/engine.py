"""One training epoch and one validation pass."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from tqdm import tqdm

from dropseg.labels import IGNORE_INDEX, NUM_CLASSES
from dropseg.metrics import ConfusionMatrix, per_image_miou

from .data import ValidationSet, downscale_label
from .distributed import Context, all_reduce_sum
from .optim import DropSchedule

_logger = logging.getLogger(__name__)

__all__ = ["EvalResult", "TrainStats", "evaluate", "train_one_epoch"]


@dataclass
class TrainStats:
    """Measurements of one training epoch.

    ``loss`` is the mean over iterations of the batch mean per-pixel cross-entropy.
    ``per_image_miou`` is the mean over training crops of the per-image mIoU of the training
    forward pass, with the regularizers active."""

    loss: float
    per_image_miou: float
    drop_prob: float
    learning_rates: dict[str, float]
    iterations: int
    seconds: float


@dataclass
class EvalResult:
    """Per-image values in validation order, the dataset confusion matrix and the predictions
    shrunk to the stored view size."""

    per_image_miou: np.ndarray
    per_image_loss: np.ndarray
    loss: float
    confusion: ConfusionMatrix
    predictions: list[np.ndarray]
    seconds: float


def autocast(context: Context):
    """Mixed precision (float16) on CUDA, plain float32 on CPU."""
    if context.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    drop_schedule: DropSchedule,
    first_iteration: int,
    context: Context,
    scaler: torch.amp.GradScaler,
    description: str,
) -> TrainStats:
    """Train one epoch, stepping the drop probability and the learning rate every iteration."""
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=context.device)
    miou_sum = torch.zeros((), dtype=torch.float64, device=context.device)
    image_count = 0
    iteration = first_iteration
    drop_prob = drop_schedule.value(iteration)
    learning_rates = _group_lrs(optimizer)
    started = time.perf_counter()

    progress = tqdm(loader, desc=description, leave=False, disable=not context.is_main, unit="batch")
    for images, labels in progress:
        images = images.to(context.device, non_blocking=True)
        labels = labels.to(context.device, non_blocking=True)
        images = images.contiguous(memory_format=torch.channels_last)

        drop_prob = drop_schedule.apply(model, iteration)
        learning_rates = _group_lrs(optimizer)
        with autocast(context):
            logits = model(images)
            loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)

        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        iteration += 1

        with torch.no_grad():
            loss_sum += loss.detach().double()
            miou = per_image_miou(logits.argmax(1), labels, NUM_CLASSES, IGNORE_INDEX)
            miou_sum += miou.nan_to_num(0.0).sum()
            image_count += int((~miou.isnan()).sum())
        progress.set_postfix(loss=f"{loss.item():.3f}", p=f"{drop_prob:.3f}")

    batches = iteration - first_iteration
    counted = torch.tensor(float(image_count), dtype=torch.float64, device=context.device)
    totals = all_reduce_sum(torch.stack([loss_sum, miou_sum, counted]), context)
    return TrainStats(
        loss=float(totals[0]) / max(1, batches * context.world_size),
        per_image_miou=float(totals[1] / totals[2]) if totals[2] > 0 else math.nan,
        drop_prob=drop_prob,
        learning_rates=learning_rates,
        iterations=batches,
        seconds=time.perf_counter() - started,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    val_set: ValidationSet,
    batch_size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    context: Context,
) -> EvalResult:
    """Run the model in eval mode over the validation set.

    ``loss`` is the mean cross-entropy over all non-ignored validation pixels; the per-image
    loss is the same mean within one image.
    """
    started = time.perf_counter()
    model.eval()
    confusion = ConfusionMatrix(NUM_CLASSES, IGNORE_INDEX)
    mious, losses, predictions = [], [], []
    loss_sum = 0.0
    pixel_count = 0
    for _, images, labels in val_set.batches(batch_size, mean, std, context.device):
        images = images.contiguous(memory_format=torch.channels_last)
        with autocast(context):
            logits = model(images)
        pixel_loss = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="none")
        valid = (labels != IGNORE_INDEX).flatten(1)
        image_loss_sum = pixel_loss.flatten(1).sum(1).double()
        image_pixels = valid.sum(1)
        loss_sum += float(image_loss_sum.sum())
        pixel_count += int(image_pixels.sum())
        losses.append((image_loss_sum / image_pixels.clamp(min=1)).cpu())

        pred = logits.argmax(1)
        confusion.update(pred, labels)
        mious.append(per_image_miou(pred, labels, NUM_CLASSES, IGNORE_INDEX).cpu())
        predictions.extend(downscale_label(p) for p in pred.to(torch.uint8).cpu().numpy())
    return EvalResult(
        per_image_miou=torch.cat(mious).numpy(),
        per_image_loss=torch.cat(losses).numpy(),
        loss=loss_sum / max(1, pixel_count),
        confusion=confusion,
        predictions=predictions,
        seconds=time.perf_counter() - started,
    )


def _group_lrs(optimizer: Optimizer) -> dict[str, float]:
    return {group.get("name", str(i)): float(group["lr"]) for i, group in enumerate(optimizer.param_groups)}
