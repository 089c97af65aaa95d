"""Run discovery and validated, cached reads of run folders under one root.

Every name and number that arrives from the page passes through :class:`RunStore`. A run
name must be one that discovery found, and a variant must have a folder in that run. An epoch
must be finished, and an image id must be a validation id of the run. Every path is resolved (following
links) and must stay inside the runs root, so nothing outside it is ever read.

Nothing is cached across requests except parsed JSON, keyed by path and modification time, so
a run that is still training shows new epochs on the next request without a restart.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dropseg import runs
from dropseg.report import BASELINE, best_rank
from dropseg.variants import paper_matrix

_logger = logging.getLogger(__name__)

__all__ = ["BASELINE", "BEST_EPOCH", "RunStore", "StoreError"]

# The value of an epoch field that selects each variant's epoch with the highest mean
# per-image mIoU.
BEST_EPOCH = "best"
# How many folder levels below the root discovery looks for run.json (root itself is level 0).
DISCOVERY_DEPTH = 2


class StoreError(ValueError):
    """A request names something the runs root does not contain, or a file is unreadable; the
    message names the value and what to do."""


@dataclass(frozen=True)
class VariantKey:
    """One trained model series: a variant with one seed in one run."""

    run: str
    variant: str
    seed: int


class RunStore:
    """Validated read access to the run folders below ``root``.

    Args:
        root: the folder given with ``--runs``; either a run folder itself or a folder holding
            run folders up to :data:`DISCOVERY_DEPTH` levels down.
        boundary: the folder that every file must resolve (following links) into; defaults to
            ``root``. A Hugging Face cache snapshot sets it to the repository's cache folder,
            because the snapshot's files are links into its ``blobs`` folder.
    """

    def __init__(self, root: str | Path, boundary: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.boundary = self.root if boundary is None else Path(boundary).resolve()
        self._json_cache: dict[Path, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    # --- discovery -----------------------------------------------------------------------

    def run_names(self) -> list[str]:
        """Return the names (paths relative to the root, ``.`` for the root) of the runs found now."""
        if not self.root.is_dir():
            return []
        found = []
        for depth in range(DISCOVERY_DEPTH + 1):
            pattern = "/".join(["*"] * depth + [runs.RUN_JSON])
            for path in self.root.glob(pattern):
                if path.is_file() and self._inside_root(path):
                    found.append(path.parent.relative_to(self.root).as_posix())
        return sorted(set(found))

    def run_label(self, run: str) -> str:
        """Return the name to show for ``run``: the folder name for the root's own run ``.``."""
        return self.root.name if run == "." else run

    def run_dir(self, run: str) -> Path:
        """Return the folder of a discovered run; reject any other name."""
        names = self.run_names()
        if run not in names:
            listed = ", ".join(names) if names else "none"
            raise StoreError(f"unknown run {run!r}; runs under {self.root}: {listed}")
        return self._checked(self.root / run)

    def run_record(self, run: str) -> dict:
        """Return the parsed run.json of ``run``."""
        folder = self.run_dir(run)
        try:
            return runs.read_run(folder)
        except (ValueError, OSError) as error:
            raise StoreError(f"run {run!r} has an unreadable run.json: {error}") from None

    def variants(self, run: str) -> list[str]:
        """Return the variants of ``run`` with at least one finished epoch, in the order of
        :func:`dropseg.variants.paper_matrix`."""
        folder = self.run_dir(run)
        order = {name: position for position, name in enumerate(paper_matrix())}
        names = [
            v for v, seeds in runs.list_runs(folder).items() if runs.finished_epochs(folder, v, seeds[0])
        ]
        return sorted(names, key=lambda name: (order.get(name, len(order)), name))

    def key(self, run: str, variant: str) -> VariantKey:
        """Return the series of ``variant`` in ``run`` with its lowest seed.

        NOTE: the explorer shows one seed per variant; runs with ``--seeds N`` show the first.
        """
        folder = self.run_dir(run)
        seeds = runs.list_runs(folder).get(variant)
        if not seeds:
            known = self.variants(run)
            if not known:
                raise StoreError(f"run {run!r} has no finished epoch yet; wait for the first epoch to finish")
            raise StoreError(
                f"unknown variant {variant!r} in run {run!r}; variants with results: {', '.join(known)}"
            )
        return VariantKey(run, variant, seeds[0])

    def epochs(self, key: VariantKey) -> list[int]:
        """Return the finished epochs of a series, ascending."""
        return runs.finished_epochs(self.run_dir(key.run), key.variant, key.seed)

    def epoch_paths(self, key: VariantKey, epoch: int) -> runs.EpochPaths:
        """Return the files of a finished epoch; reject an epoch that is not finished."""
        finished = self.epochs(key)
        if epoch not in finished:
            span = f"{finished[0]} to {finished[-1]}" if finished else "none yet"
            raise StoreError(f"epoch {epoch} of {key.variant} is not finished; finished epochs: {span}")
        paths = runs.epoch_paths(self.run_dir(key.run), key.variant, key.seed, epoch)
        self._checked(paths.folder)
        return paths

    def weights_file(self, key: VariantKey, epoch: int) -> Path:
        """Return the weights file of a finished epoch (it may be missing; the loader reports that)."""
        return self._checked(self.epoch_paths(key, epoch).weights)

    def source_lines(self, run: str) -> list[str]:
        """Return Markdown list items that name where ``run`` is read from."""
        return [f"- Folder: `{self.run_dir(run)}`"]

    def format_problems(self, run: str) -> list[str]:
        """Return the problems :func:`dropseg.runs.validate_run` finds in ``run``."""
        return runs.validate_run(self.run_dir(run))

    # --- per-epoch records -----------------------------------------------------------------

    def metrics(self, key: VariantKey, epoch: int) -> dict:
        """Return the metrics record of a finished epoch."""
        path = self.epoch_paths(key, epoch).metrics
        return self._read_json(path, f"metrics of {key.variant} epoch {epoch}")

    def metrics_series(self, key: VariantKey, problems: list[str] | None = None) -> list[dict]:
        """Return the readable metrics records of every finished epoch.

        Unreadable records are logged, appended to ``problems`` when given, and left out, so
        one corrupt file does not hide the rest.
        """
        records = []
        for epoch in self.epochs(key):
            try:
                records.append(self.metrics(key, epoch))
            except StoreError as error:
                _logger.warning("skipping an epoch: %s", error)
                if problems is not None:
                    problems.append(str(error))
        return records

    def best_record(self, key: VariantKey, problems: list[str] | None = None) -> dict:
        """Return the metrics record of the best epoch, by the rule of :func:`dropseg.report.best_rank`."""
        records = self.metrics_series(key, problems)
        scored = [r for r in records if _finite(r.get("per_image_miou", {}).get("mean"))]
        if not scored:
            raise StoreError(f"{key.variant} in run {key.run!r} has no readable finished epoch")
        return max(scored, key=best_rank)

    def best_epoch(self, key: VariantKey) -> int:
        """Return the epoch of :meth:`best_record`."""
        return int(self.best_record(key)["epoch"])

    def best_means(self, run: str) -> dict[str, float]:
        """Return ``{variant: mean per-image mIoU at its best epoch}``, highest first; variants
        without a readable epoch are left out."""
        means = {}
        for variant in self.variants(run):
            key = self.key(run, variant)
            try:
                means[variant] = float(self.best_record(key)["per_image_miou"]["mean"])
            except StoreError as error:
                _logger.warning("leaving %s out of the ranking: %s", variant, error)
        return dict(sorted(means.items(), key=lambda item: -item[1]))

    def default_variants(self, run: str, count: int = 3) -> list[str]:
        """Return ``none`` (if trained) and the ``count`` other variants with the best mean."""
        ranked = [v for v in self.best_means(run) if v != BASELINE]
        baseline = [BASELINE] if BASELINE in self.variants(run) else []
        return baseline + ranked[:count]

    def resolve_epoch(self, key: VariantKey, epoch: str | int | float | None) -> int:
        """Turn an epoch field (``best``, empty, or a number) into a finished epoch number."""
        if epoch is None or str(epoch).strip().lower() in ("", BEST_EPOCH):
            return self.best_epoch(key)
        try:
            number = int(float(epoch))
        except (TypeError, ValueError):
            raise StoreError(f"invalid epoch {epoch!r}; use {BEST_EPOCH!r} or an epoch number") from None
        if number != float(epoch):
            raise StoreError(f"invalid epoch {epoch!r}; epochs are whole numbers")
        self.epoch_paths(key, number)
        return number

    def per_image(self, key: VariantKey, epoch: int) -> dict[str, float]:
        """Return ``{image id: per-image mIoU}`` of a finished epoch, NaN for images without a value."""
        path = self.epoch_paths(key, epoch).per_image
        record = self._read_json(path, f"per-image values of {key.variant} epoch {epoch}")
        try:
            return {
                image_id: math.nan if value is None else float(value)
                for image_id, value in zip(record["image_ids"], record["per_image_miou"], strict=True)
            }
        except (KeyError, TypeError, ValueError) as error:
            raise StoreError(
                f"per-image values of {key.variant} epoch {epoch} are malformed: {error}"
            ) from None

    # --- images ----------------------------------------------------------------------------

    def validation_ids(self, run: str) -> list[str]:
        return list(self.run_record(run).get("val_ids", []))

    def check_image_id(self, run: str, image_id: str) -> str:
        """Return ``image_id`` if it is a validation id of ``run``; raise otherwise."""
        if image_id not in self.validation_ids(run):
            raise StoreError(f"unknown validation image {image_id!r} in run {run!r}; pick one from the list")
        return image_id

    def photo(self, run: str, image_id: str) -> Image.Image:
        """Return the stored RGB copy of a validation image (the model's view, max side 256 pixels)."""
        path, _ = runs.image_paths(self.run_dir(run), self.check_image_id(run, image_id))
        return self._open_image(path, f"photo of {image_id}").convert("RGB")

    def label(self, run: str, image_id: str) -> np.ndarray:
        """Return the stored (H, W) uint8 label map of a validation image, aligned with :meth:`photo`."""
        _, path = runs.image_paths(self.run_dir(run), self.check_image_id(run, image_id))
        return np.asarray(self._open_image(path, f"label of {image_id}"), dtype=np.uint8)

    def prediction(self, key: VariantKey, epoch: int, image_id: str) -> np.ndarray:
        """Return the stored (H, W) uint8 prediction of an image at an epoch."""
        path = self.epoch_paths(key, epoch).prediction(self.check_image_id(key.run, image_id))
        where = f"stored prediction of {image_id} by {key.variant} at epoch {epoch}"
        return np.asarray(self._open_image(path, where), dtype=np.uint8)

    # --- path safety and parsing -----------------------------------------------------------

    def _inside_root(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.boundary)

    def _checked(self, path: Path) -> Path:
        if not self._inside_root(path):
            raise StoreError(f"{path} resolves outside the runs root {self.boundary}; it is not read")
        return path

    def _open_image(self, path: Path, description: str) -> Image.Image:
        self._checked(path)
        try:
            with Image.open(path) as image:
                image.load()
                return image.copy()
        except FileNotFoundError:
            raise StoreError(
                f"{description} is missing ({path.name}); the run folder is incomplete"
            ) from None
        except (OSError, ValueError) as error:
            raise StoreError(f"{description} is unreadable ({path.name}: {error})") from None

    def _read_json(self, path: Path, description: str) -> Any:
        self._checked(path)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise StoreError(
                f"{description} is missing ({path.name}); the run folder is incomplete"
            ) from None
        with self._lock:
            cached = self._json_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            data = runs.read_json(path)
        except (OSError, ValueError) as error:
            raise StoreError(
                f"{description} is unreadable ({path.name}: {error}); retrain that epoch"
            ) from None
        with self._lock:
            self._json_cache[path] = (stamp, data)
        return data


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
