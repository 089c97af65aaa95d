"""The Blocks app: a run selector above five tabs (Compare, Timeline, Best and worst, Results,
Run), a timer that picks up new runs and epochs, and the ``runs`` and ``choices`` endpoints."""

from __future__ import annotations

import logging

import gradio as gr

from .services import Services
from .store import BEST_EPOCH, StoreError
from .views import compare, ranked, results, run_info, timeline
from .views.timeline import slider_maximum

_logger = logging.getLogger(__name__)

__all__ = ["build_app"]

# Seconds between re-scans of the runs root for new runs and epochs.
RESCAN_INTERVAL_S = 10.0
DEMO_COMMAND = (
    "python -m training train --preset cpu --out checkpoints/demo "
    "--variants none,all-chandrop,all-chandrop-sched,upper-uout,decoder-dropblock"
)


def no_runs_message(services: Services) -> str:
    return (
        f"**No runs found under `{services.store.root}`.** Start `bash demo.sh` from the repository, "
        f"or create the demo run in another terminal with\n\n"
        f"    {DEMO_COMMAND}\n\n"
        "while this page stays open: new runs and epochs appear here within seconds. To browse runs "
        "elsewhere, restart with `python app.py --runs FOLDER`, FOLDER being a run folder or a folder "
        "that holds run folders."
    )


def list_runs(services: Services) -> tuple[list[str], str]:
    """Return the run names found now and a status line (the how-to when there are none)."""
    names = services.store.run_names()
    return names, "" if names else no_runs_message(services)


def run_box_choices(services: Services, names: list[str]) -> list[tuple[str, str]]:
    """Return ``(label, run name)`` pairs for the run dropdown."""
    return [(services.store.run_label(name), name) for name in names]


def run_choices(services: Services, run: str | None) -> dict:
    """Return the choices and defaults that depend on ``run``: variants, default variants,
    validation ids, epoch numbers (as strings, after ``best``) and the highest epoch."""
    store = services.store
    if not run:
        return {
            "variants": [],
            "defaults": [],
            "image_ids": [],
            "epochs": [BEST_EPOCH],
            "max_epoch": 1,
            "tracked": 0,
        }
    variants = store.variants(run)
    epochs = sorted({e for v in variants for e in store.epochs(store.key(run, v))})
    return {
        "variants": variants,
        "defaults": store.default_variants(run),
        "image_ids": store.validation_ids(run),
        "epochs": [BEST_EPOCH, *(str(e) for e in epochs)],
        "max_epoch": max(epochs, default=1),
        "tracked": len(store.run_record(run).get("tracked_ids", [])),
    }


def build_app(services: Services) -> gr.Blocks:
    """Build the explorer over the runs root of ``services``."""
    with gr.Blocks(title="dropseg explorer") as app:
        gr.Markdown(
            "# dropseg explorer\nDeepLabV3+ with dropout, DropBlock and UOut (Spilsbury and Camps 2019): "
            "compare variants on one image, scrub through epochs, see best and worst validation images, "
            "and read the result tables."
        )
        names = services.store.run_names()
        with gr.Row():
            run_box = gr.Dropdown(
                label="Run",
                choices=run_box_choices(services, names),
                value=names[0] if names else None,
                interactive=True,
                allow_custom_value=True,
                scale=3,
            )
            refresh = gr.Button("Rescan runs", scale=0)
        banner = gr.Markdown("" if names else no_runs_message(services), elem_id="banner")

        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                compare_parts = compare.build(services, run_box)
            with gr.Tab("Timeline", id="timeline"):
                timeline_parts = timeline.build(services, run_box)
            with gr.Tab("Best and worst", id="ranked"):
                ranked_parts = ranked.build(services, run_box)
            with gr.Tab("Results", id="results") as results_tab:
                results.build(services, run_box, results_tab)
            with gr.Tab("Run", id="run") as run_tab:
                run_info.build(services, run_box, run_tab)

        def runs() -> list[str]:
            """Return the names of the runs under the runs root."""
            return services.store.run_names()

        gr.api(runs, api_name="runs")

        def select_run(run: str | None) -> tuple:
            """Reset every run-dependent choice to the run's defaults."""
            try:
                found = run_choices(services, run)
            except StoreError as error:
                return (gr.update(),) * 8 + (f"**Error:** {error}",)
            defaults = found["defaults"]
            first_image = found["image_ids"][0] if found["image_ids"] else None
            return (
                gr.Dropdown(choices=found["image_ids"], value=first_image),
                gr.Dropdown(choices=found["variants"], value=defaults),
                gr.Dropdown(choices=found["epochs"], value=BEST_EPOCH),
                gr.Dropdown(choices=found["variants"], value=defaults),
                gr.Slider(minimum=1, maximum=slider_maximum(found["max_epoch"]), value=found["max_epoch"]),
                # One gallery row per variant: as many columns as tracked images.
                gr.Gallery(columns=max(found["tracked"], 1)),
                gr.Dropdown(choices=found["variants"], value=defaults[-1] if defaults else None),
                gr.Dropdown(choices=found["epochs"], value=BEST_EPOCH),
                "" if run else no_runs_message(services),
            )

        choice_outputs = [
            compare_parts["image_id"],
            compare_parts["variants"],
            compare_parts["epoch"],
            timeline_parts["variants"],
            timeline_parts["epoch"],
            timeline_parts["frames"],
            ranked_parts["variant"],
            ranked_parts["epoch"],
            banner,
        ]
        selected = run_box.change(select_run, run_box, choice_outputs, api_visibility="private")
        loaded = app.load(select_run, run_box, choice_outputs, api_visibility="private")
        timeline_inputs = [run_box, timeline_parts["variants"], timeline_parts["epoch"]]
        for event in (selected, loaded):
            for render, outputs in timeline_parts["refresh"]:
                event.then(render, timeline_inputs, outputs, api_visibility="private")

        def rescan(run: str | None) -> tuple:
            """Refresh the run list and the epoch choices, keeping the user's selections."""
            found_names = services.store.run_names()
            keep = run
            if run not in found_names:
                keep = found_names[0] if found_names else None
            try:
                found = run_choices(services, keep)
            except StoreError:
                return (
                    gr.Dropdown(choices=run_box_choices(services, found_names), value=keep),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                )
            return (
                gr.Dropdown(choices=run_box_choices(services, found_names), value=keep),
                gr.Dropdown(choices=found["epochs"]),
                gr.Slider(maximum=slider_maximum(found["max_epoch"])),
                gr.Dropdown(choices=found["epochs"]),
                "" if found_names else no_runs_message(services),
            )

        rescan_outputs = [
            run_box,
            compare_parts["epoch"],
            timeline_parts["epoch"],
            ranked_parts["epoch"],
            banner,
        ]
        timer = gr.Timer(RESCAN_INTERVAL_S)
        timer.tick(rescan, run_box, rescan_outputs, api_visibility="private", show_progress="hidden")
        refresh.click(rescan, run_box, rescan_outputs, api_visibility="private")
    return app
