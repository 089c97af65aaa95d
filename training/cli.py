"""Command line: ``python -m training {train,report,publish,download-voc}``.

Invalid input ends the command with one ``error:`` line on stderr and exit status 2, before
anything is written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from huggingface_hub.errors import HfHubHTTPError

from dropseg import runs
from dropseg.data import DATA_ENV, default_data_root
from dropseg.report import FORMATS, build_report, render
from dropseg.variants import paper_matrix

from .config import UNSET, ConfigError, ExecutionConfig, StudyConfig, resolve_study
from .presets import PRESETS
from .publish import WEIGHTS_HELP, publish

_logger = logging.getLogger(__name__)

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1

# Command-line option -> study setting, for the options that override a preset.
_STUDY_OPTIONS = {
    "epochs": "epochs",
    "backbone": "backbone",
    "pretrained_backbone": "pretrained_backbone",
    "output_stride": "output_stride",
    "crop_size": "crop_size",
    "train_base_size": "train_base_size",
    "batch_size": "batch_size",
    "train_fraction": "train_fraction",
    "max_train_images": "max_train_images",
    "max_val_images": "max_val_images",
    "drop_prob": "drop_prob",
    "seeds": "seeds",
    "seed": "seed",
    "track": "track",
}


def _defaults(key: str) -> str:
    """Describe a setting's default in every preset, for --help."""
    values = ", ".join(f"{name} {PRESETS[name][key]}" for name in PRESETS)
    return f"default: {values}"


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _count_or(word: str):
    """Return an argparse type that reads a whole number, or ``word`` as :data:`UNSET` (no limit)."""

    def parse(text: str) -> int | object:
        if text == word:
            return UNSET
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a whole number or '{word}'") from None

    return parse


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        return int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid shard {text!r}: use I/N, such as 0/4") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train variants into a run folder",
        description="Train variants of the experiment matrix into a run folder; rerun to resume.",
    )
    train.add_argument(
        "--preset", choices=list(PRESETS), default="cpu", help="set of defaults (default: cpu)"
    )
    train.add_argument(
        "--data",
        type=Path,
        help=f"folder that contains VOCdevkit/VOC2012 (default: ${DATA_ENV}, ./data or ../shared/data)",
    )
    train.add_argument("--out", type=Path, required=True, help="run folder to create or continue")
    train.add_argument(
        "--variants",
        default="all",
        help="'all' (the 31 variants of the paper) or comma-separated names such as none,all-chandrop-sched "
        "(default: all)",
    )
    train.add_argument("--epochs", type=int, help=f"training epochs ({_defaults('epochs')})")
    train.add_argument("--backbone", help=f"encoder ({_defaults('backbone')})")
    train.add_argument(
        "--pretrained-backbone",
        help=f"'imagenet', 'none' for random weights, or a weights file ({_defaults('pretrained_backbone')})",
    )
    train.add_argument(
        "--output-stride",
        type=int,
        choices=(8, 16),
        help=f"ratio of input size to encoder feature size ({_defaults('output_stride')})",
    )
    train.add_argument(
        "--crop-size",
        type=int,
        help=f"training crop and validation size in pixels ({_defaults('crop_size')})",
    )
    train.add_argument(
        "--train-base-size",
        type=_count_or("full"),
        help="shorter side in pixels that training photos are shrunk to before augmentation, "
        f"'full' to keep them at full size ({_defaults('train_base_size')})",
    )
    train.add_argument(
        "--batch-size", type=int, help=f"images per iteration per process ({_defaults('batch_size')})"
    )
    train.add_argument(
        "--train-fraction",
        type=float,
        help="share of each class's train images in the class-balanced subset, in (0, 1] "
        f"({_defaults('train_fraction')})",
    )
    train.add_argument(
        "--max-train-images",
        type=_count_or("all"),
        help=f"cap on the subset size in images, 'all' for no cap ({_defaults('max_train_images')})",
    )
    train.add_argument(
        "--max-val-images",
        type=_count_or("all"),
        help=f"validate on the first N val ids, 'all' for every one ({_defaults('max_val_images')})",
    )
    train.add_argument(
        "--drop-prob", type=float, help=f"drop probability p in [0, 1) ({_defaults('drop_prob')})"
    )
    train.add_argument(
        "--seeds", type=int, help=f"train each variant with seeds seed, seed+1, ... ({_defaults('seeds')})"
    )
    train.add_argument("--seed", type=int, help=f"first training seed ({_defaults('seed')})")
    train.add_argument(
        "--track",
        type=_comma_list,
        help="comma-separated val ids whose predictions every epoch stores (default: the first val images "
        "showing tvmonitor, cow, person and aeroplane)",
    )
    train.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train; auto picks CUDA if present (default: auto)",
    )
    train.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        help="run shard I of N of the variant list, 0-based (default: 0/1)",
    )
    train.add_argument(
        "--workers", type=int, default=0, help="data loader processes (default: 0, load in this process)"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="take the settings from the run.json in --out and continue it "
        "(rerunning the same command also resumes)",
    )
    train.add_argument("--sync-bn", action="store_true", help="under torchrun, use SyncBatchNorm across GPUs")

    report = commands.add_parser("report", help="print the result table of a run folder")
    report.add_argument("run_dir", type=Path, help="run folder written by 'train'")
    report.add_argument(
        "--format", choices=FORMATS, default="markdown", help="output format (default: markdown)"
    )

    publish = commands.add_parser(
        "publish",
        help="upload a run folder, or part of it, to a Hugging Face Hub model repository",
        description="Upload a run folder with a model card to a Hugging Face Hub model repository. "
        "resume.pt files are never uploaded.",
    )
    publish.add_argument("run_dir", type=Path, help="run folder written by 'train'")
    publish.add_argument(
        "--repo", required=True, help="Hub model repository id OWNER/NAME; created if missing"
    )
    publish.add_argument("--private", action="store_true", help="create the repository as private")
    publish.add_argument(
        "--variants",
        type=_comma_list,
        help="comma-separated variants to upload (default: every variant with a finished epoch)",
    )
    publish.add_argument("--weights", default="every", help=f"{WEIGHTS_HELP} (default: every)")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="list every file that would be uploaded with its size in bytes, and the total; upload nothing",
    )

    download = commands.add_parser("download-voc", help="download and unpack PASCAL VOC 2012 (about 2 GB)")
    download.add_argument("--root", type=Path, required=True, help="folder to unpack VOCdevkit into")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    # Under torchrun only rank 0 logs progress; the other ranks report warnings and errors.
    level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "report":
            print(render(build_report(args.run_dir), args.format), end="")
            return 0
        if args.command == "publish":
            return _publish(args)
        return _download(args)
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _study_from_args(args: argparse.Namespace) -> StudyConfig:
    overrides = {setting: getattr(args, option) for option, setting in _STUDY_OPTIONS.items()}
    preset = args.preset
    if args.resume:
        try:
            stored = runs.read_run(args.out)["config"]
        except ValueError as error:
            raise ConfigError(str(error)) from None
        preset = stored.pop("preset")
        overrides = {**stored, **{key: value for key, value in overrides.items() if value is not None}}
    return resolve_study(preset, overrides)


def _train(args: argparse.Namespace) -> int:
    # Imported here so that 'report' and '--help' do not pay for loading the training stack.
    from .train_command import run_training

    study = _study_from_args(args)
    data = args.data or default_data_root()
    if data is None:
        raise FileNotFoundError(f"no VOC data found; pass --data or set {DATA_ENV}")
    variants = paper_matrix() if args.variants.strip() == "all" else _comma_list(args.variants)
    if not variants:
        raise ConfigError("--variants is empty; pass 'all' or variant names")
    if args.workers < 0:
        raise ConfigError(f"invalid --workers {args.workers}: must be 0 or more")
    execution = ExecutionConfig(
        data=Path(data),
        out=args.out,
        variants=tuple(variants),
        device=args.device,
        shard_index=args.shard[0],
        shard_count=args.shard[1],
        workers=args.workers,
        resume=args.resume,
        sync_bn=args.sync_bn,
    )
    _logger.info("study configuration: %s", json.dumps(study.to_dict()))
    results = run_training(study, execution)
    if results:
        print(summary_table(results))
    return 0


def summary_table(results: list) -> str:
    """Format the end-of-training summary, one line per variant and seed."""
    lines = [
        "| variant | seed | epochs | best epoch | best mean per-image mIoU | dataset mIoU there | minutes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.variant} | {r.seed} | {r.epochs} | {r.best_epoch} | {r.best_mean_per_image_miou:.4f} "
            f"| {r.val_miou_at_best:.4f} | {r.seconds / 60:.1f} |"
        )
    return "\n".join(lines)


def _publish(args: argparse.Namespace) -> int:
    if args.variants == []:
        raise ConfigError("--variants is empty; pass variant names or leave the option out")
    try:
        publish(
            args.run_dir,
            args.repo,
            private=args.private,
            variants=args.variants,
            weights=args.weights,
            dry_run=args.dry_run,
        )
    except HfHubHTTPError as error:
        print(f"error: upload to {args.repo} failed: {error}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _download(args: argparse.Namespace) -> int:
    from .download import download_voc

    found = download_voc(args.root)
    print(f"VOC 2012 is ready; pass --data {found}")
    return 0
