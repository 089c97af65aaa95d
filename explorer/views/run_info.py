"""Run view: configuration, data, timings and library versions of the selected run."""

from __future__ import annotations

import functools

import gradio as gr

from ..services import Services
from .common import reports_errors

__all__ = ["build", "run_info"]


def run_info(services: Services, run: str) -> tuple[str, dict, str]:
    """Return (summary Markdown, configuration and versions as JSON, status)."""
    store = services.store
    record = store.run_record(run)
    lines = [
        f"### Run `{store.run_label(run)}`",
        *store.source_lines(run),
        f"- Data: {len(record.get('train_ids', []))} training images, {len(record.get('val_ids', []))} "
        f"validation images, tracked: {', '.join(record.get('tracked_ids', [])) or 'none'}",
        "",
        "| variant | seed | epochs | training time (s) | validation time (s) | s per epoch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for variant in store.variants(run):
        key = store.key(run, variant)
        records = store.metrics_series(key)
        train = sum(r.get("seconds", {}).get("train", 0.0) for r in records)
        validation = sum(r.get("seconds", {}).get("validation", 0.0) for r in records)
        per_epoch = (train + validation) / max(len(records), 1)
        lines.append(
            f"| {variant} | {key.seed} | {len(records)} | {train:.1f} | {validation:.1f} | {per_epoch:.1f} |"
        )

    try:
        problems = store.format_problems(run)
    except (OSError, ValueError) as error:
        problems = [f"the check stopped at an unreadable file: {error}"]
    lines += [
        "",
        "**Format check:** " + ("no problems found." if not problems else f"{len(problems)} problem(s):"),
    ]
    lines += [f"- {problem}" for problem in problems[:50]]
    details = {
        "config": record.get("config"),
        "library_versions": record.get("library_versions"),
        "seeds": record.get("seeds"),
        "image_view": record.get("image_view"),
        "format_version": record.get("format_version"),
    }
    return "\n".join(lines), details, ""


def build(services: Services, run_box: gr.Dropdown, tab: gr.Tab) -> None:
    """Lay out the Run tab and wire its endpoint ``run_info``."""
    button = gr.Button("Refresh", elem_id="run-button")
    status = gr.Markdown(label="status")
    summary = gr.Markdown(label="summary", elem_id="run-summary")
    details = gr.JSON(label="Configuration and versions")
    gr.on(
        triggers=[button.click, run_box.change, tab.select],
        fn=reports_errors(lambda: ("", None))(functools.partial(run_info, services)),
        inputs=[run_box],
        outputs=[summary, details, status],
        api_name="run_info",
    )
