"""The result table of a run: each variant at its best epoch beside the published figures, and a
paired bootstrap comparison of every variant with ``none``.

Everything is read from the run folder; nothing is recomputed from images or weights.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runs
from .published import PUBLISHED_PER_IMAGE_MIOU, SUMMARY_FIELDS
from .variants import paper_matrix

_logger = logging.getLogger(__name__)

__all__ = [
    "BASELINE",
    "FORMATS",
    "Report",
    "best_record",
    "best_rank",
    "bootstrap_mean_ci",
    "build_report",
    "render",
]

FORMATS = ("markdown", "csv", "json")
BASELINE = "none"
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
LOSS_NOTE = (
    "val_loss is the plain mean per-pixel cross-entropy; the loss column of Spilsbury and Camps 2019 "
    "was also divided by the batch size (8), so it is about 1/8 of this value."
)


@dataclass
class Report:
    """Result rows per variant, paired comparisons with ``none`` and notes for the reader."""

    rows: list[dict]
    comparisons: list[dict]
    notes: list[str]
    # Unreadable files that were left out, one message each; a corrupt epoch never hides the rest.
    problems: list[str] = dataclasses.field(default_factory=list)


def _scored_metrics(run_dir: Path, variant: str, seed: int, problems: list[str]) -> list[dict]:
    """Return the metrics records that have a finite mean per-image mIoU; unreadable records
    are named in ``problems`` and left out."""
    records = []
    for epoch in runs.finished_epochs(run_dir, variant, seed):
        try:
            record = runs.read_json(runs.epoch_paths(run_dir, variant, seed, epoch).metrics)
            mean = record["per_image_miou"]["mean"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"metrics of {variant} epoch {epoch} is unreadable ({error})")
            _logger.warning("left out %s seed %d epoch %d: %s", variant, seed, epoch, error)
            continue
        if isinstance(mean, int | float) and math.isfinite(mean):
            records.append(record)
    return records


def best_rank(record: dict) -> tuple[float, int]:
    """Return the sort key that picks a variant's best epoch: the highest mean per-image mIoU,
    and the earliest epoch on a tie, so that the choice does not depend on training longer."""
    return record["per_image_miou"]["mean"], -record["epoch"]


def best_record(run_dir: Path, variant: str, seed: int, problems: list[str]) -> dict | None:
    """Return the metrics record of the best epoch by :func:`best_rank`, or None when no epoch
    has a mean per-image mIoU. Unreadable records are named in ``problems``."""
    records = _scored_metrics(run_dir, variant, seed, problems)
    if not records:
        return None
    return max(records, key=best_rank)


def bootstrap_mean_ci(
    differences: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """Return the mean of ``differences`` and its 95% percentile bootstrap interval (resampling
    images with replacement, ``resamples`` times, from a fixed seed)."""
    differences = np.asarray(differences, dtype=np.float64)
    if differences.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = 1000
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = rng.integers(0, differences.size, size=(stop - start, differences.size))
        means[start:stop] = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)


def build_report(run_dir: str | Path) -> Report:
    """Read a run folder and build its report.

    Raises:
        FileNotFoundError: if ``run_dir`` contains no run or no finished epoch.
    """
    run_dir = Path(run_dir)
    runs.read_run(run_dir)
    found = runs.list_runs(run_dir)
    order = {name: position for position, name in enumerate(paper_matrix())}
    variants = sorted(found, key=lambda name: (order.get(name, len(order)), name))

    problems: list[str] = []
    best: dict[str, dict[int, dict]] = {}
    for variant in variants:
        per_seed = {
            seed: record
            for seed in found[variant]
            if (record := best_record(run_dir, variant, seed, problems))
        }
        if per_seed:
            best[variant] = per_seed
    if not best:
        raise FileNotFoundError(f"{run_dir} has no finished epoch yet; train first")

    rows = [_row(variant, per_seed) for variant, per_seed in best.items()]
    rows.append(_published_only_row("pretrained-base"))
    comparisons = _comparisons(run_dir, best, problems)
    notes = [LOSS_NOTE]
    if any(row["seeds"] > 1 for row in rows):
        notes.append("With several seeds each measured value is the mean across seeds and *_spread its std.")
    return Report(rows, comparisons, notes, problems)


def _row(variant: str, per_seed: dict[int, dict]) -> dict:
    records = list(per_seed.values())
    row: dict = {"variant": variant, "seeds": len(records), "best_epoch": [r["epoch"] for r in records]}
    measured = {field: [r["per_image_miou"][field] for r in records] for field in SUMMARY_FIELDS}
    measured["val_miou"] = [r["val_miou"] for r in records]
    measured["val_loss"] = [r["val_loss"] for r in records]
    for field, values in measured.items():
        array = np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
        row[field] = float(np.nanmean(array))
        row[f"{field}_spread"] = float(np.nanstd(array)) if len(array) > 1 else None
    published = PUBLISHED_PER_IMAGE_MIOU.get(variant, {})
    for field in SUMMARY_FIELDS:
        row[f"published_{field}"] = published.get(field)
    return row


def _published_only_row(variant: str) -> dict:
    row: dict = {"variant": variant, "seeds": 0, "best_epoch": []}
    for field in (*SUMMARY_FIELDS, "val_miou", "val_loss"):
        row[field] = None
        row[f"{field}_spread"] = None
    for field in SUMMARY_FIELDS:
        row[f"published_{field}"] = PUBLISHED_PER_IMAGE_MIOU[variant][field]
    return row


def _comparisons(run_dir: Path, best: dict[str, dict[int, dict]], problems: list[str]) -> list[dict]:
    """Pair each variant with ``none`` image by image at their best epochs, per shared seed,
    average the per-image differences over seeds and bootstrap the mean over images."""
    if BASELINE not in best:
        return []
    comparisons = []
    for variant, per_seed in best.items():
        if variant == BASELINE:
            continue
        seeds = sorted(set(per_seed) & set(best[BASELINE]))
        if not seeds:
            continue
        rows = []
        for seed in seeds:
            try:
                ours = runs.read_per_image(run_dir, variant, seed, per_seed[seed]["epoch"])
                theirs = runs.read_per_image(run_dir, BASELINE, seed, best[BASELINE][seed]["epoch"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                problems.append(
                    f"per-image values of {variant} or {BASELINE} seed {seed} are unreadable ({error})"
                )
                continue
            rows.append([ours[i] - theirs[i] for i in ours if i in theirs])
        if not rows:
            continue
        per_image = np.nanmean(np.asarray(rows), axis=0) if len(rows) > 1 else np.asarray(rows[0])
        per_image = per_image[~np.isnan(per_image)]
        mean, low, high = bootstrap_mean_ci(per_image)
        comparisons.append(
            {
                "variant": variant,
                "seeds": len(seeds),
                "images": int(per_image.size),
                "mean_difference": mean,
                "ci_low": low,
                "ci_high": high,
                "excludes_zero": bool(low > 0 or high < 0),
            }
        )
    return comparisons


# --- rendering -----------------------------------------------------------------------------


def render(report: Report, output_format: str) -> str:
    """Render a report as ``markdown``, ``csv`` (the variant rows) or ``json`` (everything)."""
    if output_format == "json":
        content = {
            "rows": report.rows,
            "comparisons": report.comparisons,
            "notes": report.notes,
            "problems": report.problems,
        }
        return json.dumps(
            runs.json_safe(content),
            indent=1,
        )
    if output_format == "csv":
        return _csv(report.rows)
    if output_format == "markdown":
        return _markdown(report)
    raise ValueError(f"unknown report format {output_format!r}; valid formats: {', '.join(FORMATS)}")


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "best_epoch": " ".join(str(e) for e in row["best_epoch"])})
    return buffer.getvalue()


def _number(value: float | None, spread: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.3f}" if spread is None else f"{value:.3f} ± {spread:.3f}"


def _markdown(report: Report) -> str:
    header = (
        "| variant | seeds | best epoch | mean | std | worst | median | best | dataset mIoU | val loss "
        "| published mean / std / worst / median / best |"
    )
    lines = [
        "Per-image validation mIoU at each variant's best epoch (by mean per-image mIoU).",
        "",
        header,
        "|" + " --- |" * 11,
    ]
    for row in report.rows:
        measured = [_number(row[f], row[f"{f}_spread"]) for f in (*SUMMARY_FIELDS, "val_miou", "val_loss")]
        published = [row[f"published_{f}"] for f in SUMMARY_FIELDS]
        published_text = " / ".join(f"{v:.2f}" for v in published) if published[0] is not None else ""
        epochs = ", ".join(str(e) for e in row["best_epoch"])
        lines.append(
            f"| {row['variant']} | {row['seeds']} | {epochs} | "
            + " | ".join(measured)
            + f" | {published_text} |"
        )

    if report.comparisons:
        lines += [
            "",
            f"Paired difference to `{BASELINE}` in per-image mIoU (same images, best epochs), mean and 95% "
            f"bootstrap interval ({BOOTSTRAP_RESAMPLES} resamples of images, seed {BOOTSTRAP_SEED}); "
            "* marks intervals that exclude 0.",
            "",
            "| variant | images | mean difference | 95% CI | |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in report.comparisons:
            mark = "*" if c["excludes_zero"] else ""
            interval = f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            lines.append(
                f"| {c['variant']} | {c['images']} | {c['mean_difference']:+.3f} | {interval} | {mark} |"
            )
    lines += ["", *(f"Note: {note}" for note in report.notes)]
    lines += [f"Left out: {problem}" for problem in report.problems]
    return "\n".join(lines) + "\n"
