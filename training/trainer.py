"""Train one variant with one seed, epoch by epoch, into the run folder, resuming where it stopped.

Per epoch the order is: train, save the resume state (with that epoch's training statistics),
then validate and write weights, per-image values and predictions, and the metrics record
last. A process killed at any point resumes exactly: before the resume state is saved the
epoch is trained again from the previous state, and after it the validation and the writes
are redone from the saved weights.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from dropseg import build_model, runs
from dropseg.labels import palette_bytes
from dropseg.metrics import summarize
from dropseg.models import input_normalization
from dropseg.variants import parse_variant

from .config import StudyConfig
from .data import DataSelection, TrainingPairs, ValidationSet, build_train_loader
from .distributed import Context, barrier, wrap_model
from .engine import EvalResult, TrainStats, evaluate, train_one_epoch
from .optim import DropSchedule, build_optimizer, build_poly_scheduler

_logger = logging.getLogger(__name__)

__all__ = ["VariantResult", "epoch_seed", "train_variant"]

RESUME_FORMAT = 1


@dataclass(frozen=True)
class VariantResult:
    """One line of the summary table printed when training ends."""

    variant: str
    seed: int
    epochs: int
    best_epoch: int
    best_mean_per_image_miou: float
    val_miou_at_best: float
    seconds: float


def epoch_seed(seed: int, epoch: int) -> int:
    """Return the seed of epoch ``epoch``'s data loader (shuffle and worker seeds)."""
    return seed * 100_003 + epoch


def train_variant(
    run_dir: Path,
    train_pairs: TrainingPairs,
    variant_name: str,
    seed: int,
    study: StudyConfig,
    selection: DataSelection,
    val_set: ValidationSet | None,
    context: Context,
    workers: int,
    sync_bn: bool,
) -> VariantResult:
    """Train ``variant_name`` with ``seed`` for the remaining epochs of ``study``.

    ``val_set`` is needed on the main process only, because only it validates and writes.
    """
    started = time.perf_counter()
    variant = parse_variant(variant_name)
    _seed_everything(seed)
    model = build_model(
        variant,
        backbone=study.backbone,
        output_stride=study.output_stride,
        pretrained_backbone=None if study.pretrained_backbone == "none" else study.pretrained_backbone,
        drop_prob=study.drop_prob,
        aspp_channels=study.aspp_channels,
        decoder_channels=study.decoder_channels,
        low_level_channels=study.low_level_channels,
        dropblock_size=study.dropblock_size,
    ).to(context.device)
    # channels_last speeds up convolutions with cuDNN, and with oneDNN on CPUs: a Lite0 training
    # step at crop 129 took 287 ms instead of 355 ms on 2 x86 cores.
    model = model.to(memory_format=torch.channels_last)
    if context.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    mean, std = input_normalization(study.backbone)

    iterations_per_epoch = len(selection.train_ids) // (study.batch_size * context.world_size)
    total_iterations = iterations_per_epoch * study.epochs
    optimizer = build_optimizer(model, study.lr, study.head_lr_multiplier, study.momentum, study.weight_decay)
    scheduler = build_poly_scheduler(optimizer, total_iterations, study.poly_power)
    drop_schedule = DropSchedule(variant, study.drop_prob, study.ramp_epochs * iterations_per_epoch)
    scaler = torch.amp.GradScaler("cuda", enabled=context.device.type == "cuda")
    trained = wrap_model(model, context, sync_bn)

    writer = EpochWriter(run_dir, variant.name, seed, selection)
    if context.is_main and runs.remove_temp_files(runs.seed_dir(run_dir, variant.name, seed)):
        _logger.info("%s seed %d: removed temporary files of an interrupted write", variant.name, seed)
    state = _load_resume(run_dir, variant.name, seed)
    finished = runs.finished_epochs(run_dir, variant.name, seed)
    last_finished = finished[-1] if finished else 0
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        start_epoch = state["epoch"] + 1
        if state["epoch"] == last_finished + 1 and context.is_main:
            # Killed after saving the state but before the metrics record: finish that epoch.
            pending = TrainStats(**state["train_stats"])
            result = evaluate(model, val_set, study.batch_size, mean, std, context)
            writer.finish_epoch(state["epoch"], pending, result, model.state_dict())
        elif state["epoch"] not in (last_finished, last_finished + 1):
            raise RuntimeError(
                f"{runs.seed_dir(run_dir, variant.name, seed)} is inconsistent: resume state of epoch "
                f"{state['epoch']} but last finished epoch {last_finished}; delete that folder to retrain"
            )
        if start_epoch <= study.epochs:
            _logger.info("%s seed %d: resuming after epoch %d", variant.name, seed, state["epoch"])

    for epoch in range(start_epoch, study.epochs + 1):
        loader = build_train_loader(
            train_pairs, study, mean, std, epoch_seed(seed, epoch), workers, context.distributed
        )
        if context.distributed:
            loader.sampler.set_epoch(epoch)
        stats = train_one_epoch(
            trained,
            loader,
            optimizer,
            scheduler,
            drop_schedule,
            (epoch - 1) * iterations_per_epoch,
            context,
            scaler,
            description=f"{variant.name} s{seed} {epoch}/{study.epochs}",
        )
        if context.is_main:
            _save_resume(
                run_dir, variant.name, seed, epoch, model, optimizer, scheduler, scaler, drop_schedule, stats
            )
            result = evaluate(model, val_set, study.batch_size, mean, std, context)
            writer.finish_epoch(epoch, stats, result, model.state_dict())
        barrier(context)

    return _summarize(run_dir, variant.name, seed, study.epochs, time.perf_counter() - started)


class EpochWriter:
    """Writes the files of a finished epoch; the metrics record goes last."""

    def __init__(self, run_dir: Path, variant: str, seed: int, selection: DataSelection) -> None:
        self.run_dir = run_dir
        self.variant = variant
        self.seed = seed
        self.selection = selection
        self.palette = palette_bytes()

    def finish_epoch(self, epoch: int, stats: TrainStats, result: EvalResult, model_state: dict) -> None:
        """Write weights, per-image values, predictions and, last, the metrics record."""
        paths = runs.epoch_paths(self.run_dir, self.variant, self.seed, epoch)
        weights = {key: _inference_copy(value) for key, value in model_state.items()}
        metadata = {"variant": self.variant, "seed": str(self.seed), "epoch": str(epoch)}
        payload = safetensors_bytes(weights, metadata=metadata)
        runs.atomic_write_bytes(paths.weights, payload)

        val_ids = self.selection.val_ids
        per_image = {
            "image_ids": val_ids,
            "per_image_miou": result.per_image_miou.tolist(),
            "loss": result.per_image_loss.tolist(),
        }
        runs.atomic_write_json(paths.per_image, per_image)

        groups = {"tracked": list(self.selection.tracked_ids), **rank_images(val_ids, result.per_image_miou)}
        index = {image_id: position for position, image_id in enumerate(val_ids)}
        for image_id in dict.fromkeys(i for ids in groups.values() for i in ids):
            png = runs.png_bytes(result.predictions[index[image_id]], self.palette)
            runs.atomic_write_bytes(paths.prediction(image_id), png)

        summary = summarize(result.per_image_miou)
        record = {
            "epoch": epoch,
            "variant": self.variant,
            "seed": self.seed,
            "drop_prob": stats.drop_prob,
            "learning_rates": stats.learning_rates,
            "train_loss": stats.loss,
            "train_per_image_miou": stats.per_image_miou,
            "val_loss": result.loss,
            "val_miou": result.confusion.miou(),
            "per_class_iou": result.confusion.per_class_iou().tolist(),
            "per_image_miou": summary,
            "predictions": groups,
            "iterations": stats.iterations,
            "seconds": {"train": stats.seconds, "validation": result.seconds},
        }
        runs.atomic_write_json(paths.metrics, record)
        _logger.info(
            "%s seed %d epoch %d: p=%.3f train loss %.4f, train per-image mIoU %.4f, val loss %.4f, "
            "val per-image mIoU %.4f (worst %.4f), dataset mIoU %.4f, %.1f s training + %.1f s validation",
            self.variant,
            self.seed,
            epoch,
            stats.drop_prob,
            stats.loss,
            stats.per_image_miou,
            result.loss,
            summary["mean"],
            summary["worst"],
            record["val_miou"],
            stats.seconds,
            result.seconds,
        )


def rank_images(ids: list[str], values: np.ndarray) -> dict[str, list[str]]:
    """Return the ``RANKED_COUNT`` best (highest first), middle and worst (lowest first) ids by
    per-image mIoU; images without a value (NaN) are left out and ties keep list order."""
    valid = [i for i in np.argsort(values, kind="stable") if not np.isnan(values[i])]
    count = runs.RANKED_COUNT
    centre = max(0, len(valid) // 2 - count // 2)
    return {
        "best": [ids[i] for i in reversed(valid[-count:])],
        "middle": [ids[i] for i in valid[centre : centre + count]],
        "worst": [ids[i] for i in valid[:count]],
    }


def _inference_copy(tensor: torch.Tensor) -> torch.Tensor:
    # Floating-point weights are stored as float16 for inference; integer buffers stay as they are.
    tensor = tensor.detach().cpu()
    return tensor.half().contiguous() if tensor.is_floating_point() else tensor.contiguous()


def _summarize(run_dir: Path, variant: str, seed: int, epochs: int, seconds: float) -> VariantResult:
    records = runs.read_metrics(run_dir, variant, seed)
    best = max(records, key=lambda r: r["per_image_miou"]["mean"] or -1.0)
    return VariantResult(
        variant, seed, epochs, best["epoch"], best["per_image_miou"]["mean"], best["val_miou"], seconds
    )


# --- random state --------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _get_rng_state() -> dict:
    # Python and numpy states become plain lists so that torch.load(weights_only=True) reads them.
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- resume state --------------------------------------------------------------------------


def _save_resume(
    run_dir: Path,
    variant: str,
    seed: int,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    drop_schedule: DropSchedule,
    stats: TrainStats,
) -> None:
    """Save everything the next epoch needs, full precision, as tensors and plain types only."""
    state = {
        "resume_format": RESUME_FORMAT,
        "variant": variant,
        "seed": seed,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "drop_schedule": drop_schedule.state_dict(),
        "rng": _get_rng_state(),
        "train_stats": dataclasses.asdict(stats),
    }
    runs.atomic_write(runs.resume_path(run_dir, variant, seed), lambda stream: torch.save(state, stream))


def _load_resume(run_dir: Path, variant: str, seed: int) -> dict | None:
    path = runs.resume_path(run_dir, variant, seed)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
