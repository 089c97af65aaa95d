"""Results view: the report table of every variant beside the published figures, the paired
comparison with ``none``, a box plot of per-image mIoU and a CSV download.

The tables come from :func:`dropseg.report.build_report`, the same code as
``python -m training report``. It leaves out unreadable epochs and names them, so one corrupt
metrics record does not hide the table.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from dropseg.published import SUMMARY_FIELDS
from dropseg.report import BASELINE, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Report, build_report

from ..plots import box_plot
from ..services import Services
from ..store import StoreError
from .common import reports_errors

__all__ = ["build", "comparison_table", "report_table", "results"]

_DOWNLOADS = Path(tempfile.mkdtemp(prefix="dropseg-explorer-"))
_MEASURED_COLUMNS = {
    **{field: field for field in SUMMARY_FIELDS},
    "val_miou": "dataset mIoU",
    "val_loss": "val loss",
}


def report_table(report: Report) -> pd.DataFrame:
    """Build one row per variant at its best epoch with the published figures beside ours.
    With several seeds, the measured values are means across seeds."""
    rows = []
    for row in report.rows:
        table_row = {"variant": row["variant"], "best epoch": ", ".join(str(e) for e in row["best_epoch"])}
        table_row.update({label: row[key] for key, label in _MEASURED_COLUMNS.items()})
        table_row.update({f"paper {field}": row[f"published_{field}"] for field in SUMMARY_FIELDS})
        rows.append(table_row)
    return pd.DataFrame(rows).round(4)


def comparison_table(report: Report) -> pd.DataFrame:
    """Build the paired difference of each variant to ``none`` with its 95% bootstrap interval."""
    rows = [
        {
            "variant": c["variant"],
            "images": c["images"],
            f"mean difference to {BASELINE}": c["mean_difference"],
            "95% CI low": c["ci_low"],
            "95% CI high": c["ci_high"],
            "CI excludes 0": c["excludes_zero"],
        }
        for c in report.comparisons
    ]
    return pd.DataFrame(rows).round(4)


def results(services: Services, run: str) -> tuple:
    """Return (report table, comparison table, box plot, CSV path, notes, status) of a run."""
    store = services.store
    try:
        report = build_report(store.run_dir(run))
    except FileNotFoundError as error:
        raise StoreError(f"run {run!r}: {error}") from None
    table = report_table(report)

    csv_path = _DOWNLOADS / f"{_safe_name(run)}-results.csv"
    table.to_csv(csv_path, index=False)
    values, problems = {}, list(report.problems)
    for row in report.rows:
        if not row["best_epoch"]:
            continue
        try:
            per_image = store.per_image(store.key(run, row["variant"]), row["best_epoch"][0])
        except StoreError as error:
            problems.append(str(error))
            continue
        values[row["variant"]] = np.asarray(list(per_image.values()))
    notes = "\n".join(
        [
            "- Per-image mIoU summaries (mean, std, worst, median, best) at each variant's best epoch by "
            "mean; dataset mIoU is the standard VOC metric over one confusion matrix.",
            *(f"- {note}" for note in report.notes),
            f"- Paired comparison: per-image differences to `{BASELINE}` at both best epochs, mean and 95% "
            f"percentile bootstrap interval over images ({BOOTSTRAP_RESAMPLES} resamples, seed "
            f"{BOOTSTRAP_SEED}).",
        ]
    )
    status = "" if not problems else "**Left out:** " + "; ".join(problems)
    return table, comparison_table(report), box_plot(values), str(csv_path), notes, status


def _safe_name(run: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run).strip("._") or "run"


def build(services: Services, run_box: gr.Dropdown, tab: gr.Tab) -> None:
    """Lay out the Results tab and wire its endpoint ``results``."""
    button = gr.Button("Refresh", elem_id="results-button")
    status = gr.Markdown(label="status", elem_id="results-status")
    table = gr.Dataframe(
        label="Per-image mIoU at each variant's best epoch", interactive=False, elem_id="results-table"
    )
    comparison = gr.Dataframe(label=f"Paired difference to {BASELINE}", interactive=False)
    plot = gr.Plot(label="Per-image mIoU")
    download = gr.DownloadButton("Download CSV", elem_id="results-csv")
    notes = gr.Markdown(label="notes")
    gr.on(
        triggers=[button.click, run_box.change, tab.select],
        fn=reports_errors(lambda: (None, None, None, None, ""))(functools.partial(results, services)),
        inputs=[run_box],
        outputs=[table, comparison, plot, download, notes, status],
        api_name="results",
    )
