"""Publish a run folder, or part of it, to a Hugging Face Hub model repository.

``python -m training publish RUN --repo OWNER/NAME`` stages the chosen files in a temporary
folder of symbolic links beside a generated model card (``README.md``) and uploads that folder
with :meth:`huggingface_hub.HfApi.upload_folder`. A staging folder is used instead of
``allow_patterns`` on the run folder for three reasons. The model card is not part of the run
and must not be written into it. The file choice (finished epochs only, weights of some epochs)
is exact instead of a pattern list of thousands of entries. And the report in the card is
built from the staged folder, so it shows exactly the variants that go up. The links are
symbolic rather than hard links, because the temporary folder may be on another file system.

``resume.pt`` files are never uploaded: they hold the optimizer and random states that only
``train`` needs to continue, and readers of a run must not need them (docs/run-format.md).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, ModelCardData
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from dropseg import runs
from dropseg.report import best_record, build_report, render

from .config import ConfigError

_logger = logging.getLogger(__name__)

__all__ = [
    "PublishError",
    "RunFile",
    "WeightsChoice",
    "check_repo_id",
    "model_card",
    "parse_weights",
    "publish",
    "select_files",
    "select_variants",
    "staged_run",
]

WEIGHTS_EVERY = "every"
WEIGHTS_BEST = "best"
WEIGHTS_LAST = "last"
WEIGHTS_HELP = (
    "which epochs keep their weights: 'every', 'best' (each variant's epoch with the highest mean "
    "per-image mIoU), 'last' (the last finished epoch) or a comma list of epochs such as 1,10,30"
)
MODEL_CARD = "README.md"
REPO_TYPE = "model"
# Copyright and use terms of PASCAL VOC 2012, from the data set's page
# (http://host.robots.ox.ac.uk/pascal/VOC/voc2012/). The run folder contains copies of its images.
VOC_TERMS = (
    "The run folder contains resized copies of PASCAL VOC 2012 validation images (`images/*.jpg`), "
    "their annotations (`images/*.png`) and predictions on them. The VOC 2012 images were obtained "
    "from Flickr, and their use must respect Flickr's terms of use (https://www.flickr.com/help/terms). "
    "The annotations are provided for research use. See the VOC 2012 page, "
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/, for the data set's terms and citation."
)


class PublishError(ConfigError):
    """Invalid publish input; the message names the value and the fix."""


@dataclass(frozen=True)
class RunFile:
    """One file to upload: its path in the run folder and in the repository (POSIX), and its
    size in bytes."""

    path: str
    size: int


@dataclass(frozen=True)
class WeightsChoice:
    """The choice of epochs that keep their weights. ``mode`` is every, best, last or epochs, and
    ``epochs`` lists the epoch numbers of the epochs mode."""

    mode: str
    epochs: tuple[int, ...] = ()

    def describe(self) -> str:
        """Return the chosen epochs in words, for the model card and the commit message."""
        if self.mode == WEIGHTS_BEST:
            return "each variant's best epoch (highest mean per-image mIoU)"
        if self.mode == WEIGHTS_LAST:
            return "each variant's last finished epoch"
        if self.mode == WEIGHTS_EVERY:
            return "every finished epoch"
        return "epochs " + ", ".join(str(e) for e in self.epochs)


def parse_weights(text: str) -> WeightsChoice:
    """Parse ``--weights``: every, best, last or a comma list of epoch numbers from 1."""
    value = text.strip().lower()
    if value in (WEIGHTS_EVERY, WEIGHTS_BEST, WEIGHTS_LAST):
        return WeightsChoice(value)
    epochs = []
    for item in (part.strip() for part in value.split(",")):
        if not item.isdigit() or int(item) < 1:
            raise PublishError(
                f"invalid --weights {text!r}: {item!r} is not an epoch number from 1; "
                "use every, best, last or a comma list such as 1,10,30"
            )
        epochs.append(int(item))
    return WeightsChoice("epochs", tuple(sorted(set(epochs))))


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it is a valid ``OWNER/NAME`` Hub repository id; raise otherwise."""
    if repo_id.count("/") != 1:
        raise PublishError(f"invalid --repo {repo_id!r}: use OWNER/NAME, such as my-user/dropseg-cpu")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PublishError(f"invalid --repo {repo_id!r}: {error}") from None
    return repo_id


def select_variants(run_dir: Path, requested: list[str] | None) -> dict[str, list[int]]:
    """Return ``{variant: seeds}`` to publish: the requested variants, or every variant with a
    finished epoch when ``requested`` is None. Series without a finished epoch are left out."""
    found = {
        variant: [s for s in seeds if runs.finished_epochs(run_dir, variant, s)]
        for variant, seeds in runs.list_runs(run_dir).items()
    }
    finished = {variant: seeds for variant, seeds in found.items() if seeds}
    if requested is None:
        if not finished:
            raise PublishError(f"{run_dir} has no finished epoch yet; train first")
        return finished
    unknown = [v for v in requested if v not in finished]
    if unknown:
        listed = ", ".join(finished) or "none"
        raise PublishError(
            f"invalid --variants: {', '.join(unknown)} has no finished epoch in {run_dir}; "
            f"variants with finished epochs: {listed}"
        )
    return {variant: finished[variant] for variant in dict.fromkeys(requested)}


def _weights_epochs(run_dir: Path, variant: str, seed: int, choice: WeightsChoice) -> list[int]:
    finished = runs.finished_epochs(run_dir, variant, seed)
    if choice.mode == WEIGHTS_EVERY:
        return finished
    if choice.mode == WEIGHTS_LAST:
        return finished[-1:]
    if choice.mode == WEIGHTS_BEST:
        record = best_record(run_dir, variant, seed, [])
        if record is None:
            raise PublishError(
                f"{variant} seed {seed} has no readable epoch with a per-image mIoU, so it has no best "
                "epoch; use --weights last or leave the variant out with --variants"
            )
        return [int(record["epoch"])]
    missing = [e for e in choice.epochs if e not in finished]
    if missing:
        span = f"{finished[0]} to {finished[-1]}"
        raise PublishError(
            f"invalid --weights: epoch {', '.join(str(e) for e in missing)} of {variant} seed {seed} is "
            f"not finished (finished epochs: {span}); pick finished epochs or leave the variant out "
            "with --variants"
        )
    return list(choice.epochs)


def _files_in(run_dir: Path, folder: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    # Temporary files of a writer killed mid-write start with a dot and end in .tmp; never upload them.
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in suffixes and not path.name.startswith("."):
                yield path


def select_files(run_dir: Path, variants: dict[str, list[int]], choice: WeightsChoice) -> list[RunFile]:
    """List the files to upload, sorted by path: run.json, the image copies and, for every finished
    epoch of the chosen series, metrics, per-image values, predictions and the chosen weights."""
    paths = [runs.run_json_path(run_dir)]
    paths += _files_in(run_dir, run_dir / runs.IMAGES_DIR, (".jpg", ".png"))
    for variant, seeds in variants.items():
        for seed in seeds:
            with_weights = set(_weights_epochs(run_dir, variant, seed, choice))
            for epoch in runs.finished_epochs(run_dir, variant, seed):
                epoch_files = runs.epoch_paths(run_dir, variant, seed, epoch)
                paths += [epoch_files.metrics, epoch_files.per_image]
                paths += _files_in(run_dir, epoch_files.predictions, (".png",))
                if epoch in with_weights:
                    paths.append(epoch_files.weights)
    files = [RunFile(path.relative_to(run_dir).as_posix(), path.stat().st_size) for path in paths]
    return sorted(files, key=lambda f: f.path)


@contextmanager
def staged_run(run_dir: Path, files: list[RunFile]) -> Iterator[Path]:
    """Yield a temporary folder that mirrors ``files`` of ``run_dir`` as symbolic links; it is
    removed on exit. The model card is added by the caller."""
    with tempfile.TemporaryDirectory(prefix="dropseg-publish-") as folder:
        staging = Path(folder)
        for item in files:
            link = staging / item.path
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink((run_dir / item.path).resolve(), link)
        yield staging


def _card_metadata(backbone: str) -> str:
    # No `datasets:` entry: the data comes from the VOC site, and the Hub has no official copy of
    # VOC 2012 to link to.
    data = ModelCardData(
        library_name="dropseg",
        license="mit",
        pipeline_tag="image-segmentation",
        tags=["semantic-segmentation", "deeplabv3plus", "dropout", "dropblock", "pascal-voc", backbone],
    )
    return data.to_yaml()


def model_card(staging: Path, repo_id: str, choice: WeightsChoice) -> str:
    """Return the model card of the run staged in ``staging``: front matter, what the run is, its
    configuration, the result table of :mod:`dropseg.report` and the VOC data terms."""
    record = runs.read_run(staging)
    config = record["config"]
    variants = runs.list_runs(staging)
    report = render(build_report(staging), "markdown")
    settings = json.dumps(config, indent=1)
    versions = json.dumps(record.get("library_versions", {}), indent=1)
    return f"""---
{_card_metadata(config["backbone"])}
---

# dropseg run: {config["preset"]} preset, {len(variants)} variants

DeepLabV3+ ({config["backbone"]} encoder, output stride {config["output_stride"]}) trained by dropseg's
`python -m training train` on a class-balanced {config["train_fraction"]:.0%} of PASCAL VOC 2012 `train`, to
rerun the study of Spilsbury and Camps 2019, "Don't ignore Dropout in Fully Convolutional Networks"
(https://arxiv.org/abs/1908.09162): channel dropout, DropBlock and UOut placed in the backbone, the ASPP
or the decoder, with a constant or a linearly ramped drop probability.

This repository is a dropseg run folder, format version {record["format_version"]}, which
`docs/run-format.md` in dropseg describes file by file. Variants: {", ".join(f"`{v}`" for v in variants)}.
Training used {len(record["train_ids"])} images and validation {len(record["val_ids"])} images.

Metrics, per-image values and stored predictions of every finished epoch are included. Weights
(`weights.safetensors`, float16) are included for {choice.describe()}. The `resume.pt` training
states are left out, because only `train` needs them to continue a run.

Browse it with the dropseg explorer: `python app.py --runs hf://{repo_id}`.

## Results

{report}
## Configuration

```json
{settings}
```

Library versions of the training process:

```json
{versions}
```

## Data terms

{VOC_TERMS}
"""


def format_listing(files: list[RunFile]) -> str:
    """Return one line per file (size in bytes, path) and a total line."""
    total = sum(f.size for f in files)
    width = len(f"{total:,}")
    lines = [f"{f.size:>{width},}  {f.path}" for f in files]
    lines.append(f"{len(files)} files, {total:,} bytes ({total / 1e6:,.1f} MB) in total")
    return "\n".join(lines)


def publish(
    run_dir: Path,
    repo_id: str,
    *,
    private: bool = False,
    variants: list[str] | None = None,
    weights: str = WEIGHTS_EVERY,
    dry_run: bool = False,
    output: Callable[[str], None] = print,
) -> None:
    """Upload a run, or the chosen variants and weights of it, with a model card to ``repo_id``.

    With ``dry_run`` only the file listing with sizes and the total goes to ``output``; nothing
    is uploaded and no token or network is needed. Otherwise the repository is created if
    missing and the staged folder is uploaded with ``HfApi.upload_folder``. In huggingface_hub
    2.4 with hf_xet, that call commits large folders in several batches, resumes an interrupted
    upload when rerun and shows its own progress.

    Raises:
        PublishError: for an invalid repository id, variant or weights choice.
        FileNotFoundError: if ``run_dir`` contains no run.
    """
    run_dir = Path(run_dir)
    runs.read_run(run_dir)
    repo_id = check_repo_id(repo_id)
    choice = parse_weights(weights)
    chosen = select_variants(run_dir, variants)
    files = select_files(run_dir, chosen, choice)

    with staged_run(run_dir, files) as staging:
        card = model_card(staging, repo_id, choice)
        (staging / MODEL_CARD).write_text(card, encoding="utf-8")
        card_file = RunFile(MODEL_CARD, (staging / MODEL_CARD).stat().st_size)
        listed = sorted([*files, card_file], key=lambda f: f.path)
        visibility = "private" if private else "public"
        if dry_run:
            output(f"Dry run: these files would go to the {visibility} model repository {repo_id}:")
            output(format_listing(listed))
            return
        _logger.info("uploading %d files of %s to %s (%s)", len(listed), run_dir, repo_id, visibility)
        api = HfApi()
        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type=REPO_TYPE,
            folder_path=staging,
            commit_message=f"Upload dropseg run {run_dir.name}, weights of {choice.describe()}",
        )
    output(f"Uploaded {len(listed)} files to https://huggingface.co/{repo_id}, commit {commit.oid}")
