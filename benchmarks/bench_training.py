"""Training and validation throughput of the ``cpu`` preset: dropseg's engine against a plain loop.

The plain loop follows torchvision's ``references/segmentation`` recipe: a DataLoader that
decodes, shrinks and augments every training pair each epoch, and validation with batch size 1
that decodes every image each time. dropseg's engine uses the same model, data, transforms and
training batch size, but decodes and shrinks the training pairs once per run, keeps the model
and batches in channels_last memory format, and validates in batches from photos decoded once
per run. Both run in
this one process, one after the other, and each is timed after one warm-up pass.

Usage: python benchmarks/bench_training.py [--data PATH] [--epochs 2]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from dropseg import build_model
from dropseg.data import (
    VOCPairs,
    default_data_root,
    find_voc_root,
    train_transforms,
    val_transforms,
)
from dropseg.labels import IGNORE_INDEX, NUM_CLASSES
from dropseg.metrics import ConfusionMatrix
from dropseg.models import input_normalization
from dropseg.variants import parse_variant
from training.config import resolve_study
from training.data import TrainingPairs, ValidationSet, build_train_loader, resize_shorter_side, select_data
from training.distributed import Context
from training.engine import evaluate, train_one_epoch
from training.optim import DropSchedule, build_optimizer, build_poly_scheduler


def make_model(study):
    torch.manual_seed(0)
    return build_model(
        "none",
        backbone=study.backbone,
        pretrained_backbone=study.pretrained_backbone,
        aspp_channels=study.aspp_channels,
        decoder_channels=study.decoder_channels,
        low_level_channels=study.low_level_channels,
    )


def plain_train(model, root, ids, study, mean, std, epochs: int) -> float:
    """Return training images per second of a reference-style loop."""
    augment = train_transforms(study.crop_size, mean, std, scale_range=study.scale_range)

    def transforms(photo, label):
        return augment(*resize_shorter_side(photo, label, study.train_base_size))

    loader = DataLoader(
        VOCPairs(root, ids, transforms),
        batch_size=study.batch_size,
        shuffle=True,
        drop_last=True,
    )
    optimizer = build_optimizer(model, study.lr, study.head_lr_multiplier, study.momentum, study.weight_decay)
    model.train()
    images = 0
    started = time.perf_counter()
    for _ in range(epochs):
        for photos, labels in loader:
            loss = F.cross_entropy(model(photos), labels, ignore_index=IGNORE_INDEX)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += photos.shape[0]
    return images / (time.perf_counter() - started)


@torch.no_grad()
def plain_validate(model, root, ids, study, mean, std) -> float:
    """Return validation images per second with batch size 1 and decoding every pass."""
    loader = DataLoader(VOCPairs(root, ids, val_transforms(study.crop_size, mean, std)), batch_size=1)
    confusion = ConfusionMatrix(NUM_CLASSES, IGNORE_INDEX)
    model.eval()
    started = time.perf_counter()
    for photos, labels in loader:
        confusion.update(model(photos).argmax(1), labels)
    return len(ids) / (time.perf_counter() - started)


def engine_train(model, train_pairs, study, mean, std, epochs: int) -> float:
    context = Context(torch.device("cpu"))
    model = model.to(memory_format=torch.channels_last)  # as training.trainer does
    iterations = len(train_pairs) // study.batch_size
    optimizer = build_optimizer(model, study.lr, study.head_lr_multiplier, study.momentum, study.weight_decay)
    scheduler = build_poly_scheduler(optimizer, iterations * epochs, study.poly_power)
    drop_schedule = DropSchedule(parse_variant("none"), study.drop_prob, 0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    images = 0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loader = build_train_loader(train_pairs, study, mean, std, epoch, workers=0)
        stats = train_one_epoch(
            model,
            loader,
            optimizer,
            scheduler,
            drop_schedule,
            (epoch - 1) * iterations,
            context,
            scaler,
            "bench",
        )
        images += stats.iterations * study.batch_size
    return images / (time.perf_counter() - started)


def engine_validate(model, val_set, study, mean, std) -> float:
    result = evaluate(model, val_set, study.batch_size, mean, std, Context(torch.device("cpu")))
    return len(val_set) / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", help="folder that contains VOCdevkit (default: $DROPSEG_DATA or ../shared/data)"
    )
    parser.add_argument("--epochs", type=int, default=2, help="timed training epochs per loop (default: 2)")
    args = parser.parse_args()

    root = find_voc_root(args.data) if args.data else default_data_root()
    study = resolve_study("cpu", {})
    selection = select_data(root, study)
    mean, std = input_normalization(study.backbone)
    train_ids, val_ids = selection.train_ids, selection.val_ids
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"cpu preset: {len(train_ids)} training images, {len(val_ids)} validation images, "
        f"crop {study.crop_size}, batch {study.batch_size}"
    )

    started = time.perf_counter()
    val_set = ValidationSet(root, val_ids, study.crop_size)
    val_decode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    train_pairs = TrainingPairs(root, train_ids, study.train_base_size)
    train_decode_seconds = time.perf_counter() - started

    model = make_model(study)
    plain_train(model, root, train_ids, study, mean, std, 1)
    plain_val_speed = plain_validate(model, root, val_ids, study, mean, std)
    plain_train_speed = plain_train(model, root, train_ids, study, mean, std, args.epochs)
    plain_val_speed = max(plain_val_speed, plain_validate(model, root, val_ids, study, mean, std))

    model = make_model(study)
    engine_train(model, train_pairs, study, mean, std, 1)
    engine_val_speed = engine_validate(model, val_set, study, mean, std)
    engine_train_speed = engine_train(model, train_pairs, study, mean, std, args.epochs)
    engine_val_speed = max(engine_val_speed, engine_validate(model, val_set, study, mean, std))

    print(f"{'':24s} {'plain loop':>12s} {'dropseg':>12s} {'speed-up':>9s}")
    for name, plain, ours in [
        ("training images/s", plain_train_speed, engine_train_speed),
        ("validation images/s", plain_val_speed, engine_val_speed),
    ]:
        print(f"{name:24s} {plain:12.1f} {ours:12.1f} {ours / plain:8.2f}x")
    print(
        f"one-time decode: {len(train_ids)} training pairs {train_decode_seconds:.1f} s, "
        f"{len(val_ids)} validation images {val_decode_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
