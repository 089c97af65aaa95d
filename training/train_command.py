"""The ``train`` command after argument parsing: check, create the run, train each variant."""

from __future__ import annotations

import logging

from .config import ConfigError, ExecutionConfig, StudyConfig
from .data import TrainingPairs, ValidationSet
from .distributed import barrier, init_context, shutdown
from .run_setup import create_run, prepare_run
from .trainer import VariantResult, train_variant

_logger = logging.getLogger(__name__)

__all__ = ["run_training"]


def run_training(study: StudyConfig, execution: ExecutionConfig) -> list[VariantResult]:
    """Train this process's share of the variants, each with every seed, into ``execution.out``.

    Raises:
        ConfigError, FileNotFoundError: for invalid input, before anything is written.
    """
    prepared = prepare_run(study, execution)
    try:
        context = init_context(execution.device)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if execution.sync_bn and context.device.type != "cuda":
        # PyTorch's SyncBatchNorm runs on CUDA tensors only.
        raise ConfigError("--sync-bn needs CUDA GPUs; leave it out on CPU")

    out = execution.out
    if context.is_main:
        create_run(out, prepared.run_record)
    barrier(context)
    _logger.info(
        "shard %d/%d: %d variants x %d seeds, %d training and %d validation images, device %s",
        execution.shard_index,
        execution.shard_count,
        len(prepared.variants),
        study.seeds,
        len(prepared.selection.train_ids),
        len(prepared.selection.val_ids),
        context.device,
    )

    train_pairs = TrainingPairs(prepared.root, prepared.selection.train_ids, study.train_base_size)

    # Only rank 0 validates, so only it decodes the validation images.
    val_set = None
    if context.is_main:
        val_set = ValidationSet(prepared.root, prepared.selection.val_ids, study.crop_size)
        val_set.write_copies(out)

    results = []
    try:
        for variant in prepared.variants:
            for seed in study.seed_list:
                results.append(
                    train_variant(
                        out,
                        train_pairs,
                        variant,
                        seed,
                        study,
                        prepared.selection,
                        val_set,
                        context,
                        execution.workers,
                        execution.sync_bn,
                    )
                )
    finally:
        shutdown(context)
    return results if context.is_main else []
