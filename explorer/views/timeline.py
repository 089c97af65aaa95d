"""Timeline view: the stored predictions of the tracked validation images epoch by epoch, one row
per variant, beside mIoU and loss curves with the current epoch marked. No model runs here."""

from __future__ import annotations

import functools
import math

import gradio as gr
from matplotlib.figure import Figure

from dropseg.labels import blend

from ..imagefiles import image_file
from ..plots import curves_figure
from ..services import Services
from ..store import RunStore, StoreError
from .common import check_variants, reports_errors

__all__ = ["build", "timeline_curves", "timeline_frames"]

# Seconds between epochs while the timeline plays.
PLAY_INTERVAL_S = 1.0
OVERLAY_OPACITY = 0.6
# Gradio sliders need maximum > minimum, so a run with one epoch gets a slider to 2. At 2
# the status reports that epoch 2 is not finished.
SLIDER_MIN_MAX = 2
# Highest epoch the ``timeline`` endpoints accept before the handler checks the run.
API_EPOCH_LIMIT = 10_000


def slider_maximum(top_epoch: int) -> int:
    """Return the epoch slider's maximum for a highest finished epoch ``top_epoch``."""
    return max(top_epoch, SLIDER_MIN_MAX)


def timeline_frames(services: Services, run: str, variants: list[str], epoch: float) -> tuple:
    """Return (gallery items, status) for one epoch.

    The first row is the ground truth of each tracked image; then one row per variant, from
    the prediction PNGs stored at that epoch. A variant without that epoch is named in the
    status.
    """
    store = services.store
    names = check_variants(variants)
    epoch = int(epoch)
    tracked = list(store.run_record(run).get("tracked_ids", []))
    if not tracked:
        raise StoreError(f"run {run!r} tracks no validation images; train with --track IDS")

    photos = {image_id: store.photo(run, image_id) for image_id in tracked}
    items = [(_ground_truth_file(store, run, i), f"ground truth · {i}") for i in tracked]
    missing = []
    for variant in names:
        key = store.key(run, variant)
        if epoch not in store.epochs(key):
            missing.append(variant)
            continue
        values = store.per_image(key, epoch)
        for image_id in tracked:
            overlay = blend(photos[image_id], store.prediction(key, epoch, image_id), OVERLAY_OPACITY)
            value = values.get(image_id, math.nan)
            items.append((image_file(overlay), f"{variant} · epoch {epoch} · {image_id} · mIoU {value:.3f}"))
    status = f"Epoch {epoch}: ground truth, then one row per variant ({len(tracked)} tracked images)."
    if missing:
        status += f"\n\n**Not finished at epoch {epoch}:** {', '.join(missing)}"
    return items, status


@functools.lru_cache(maxsize=256)
def _ground_truth_file(store: RunStore, run: str, image_id: str) -> str:
    # The ground-truth row is the same at every epoch, so a slider step renders it only once.
    return image_file(blend(store.photo(run, image_id), store.label(run, image_id), OVERLAY_OPACITY))


def timeline_curves(services: Services, run: str, variants: list[str], epoch: float) -> tuple[Figure, str]:
    """Return the mIoU and loss curves of the variants with ``epoch`` marked, and a status."""
    store = services.store
    names = check_variants(variants)
    series = {variant: store.metrics_series(store.key(run, variant)) for variant in names}
    return curves_figure(series, int(epoch)), ""


def epoch_span(services: Services, run: str, variants: list[str]) -> int:
    """Return the highest finished epoch among ``variants`` (0 when none has finished one)."""
    store = services.store
    spans = [max(store.epochs(store.key(run, v)), default=0) for v in check_variants(variants)]
    return max(spans, default=0)


def build(services: Services, run_box: gr.Dropdown) -> dict:
    """Lay out the Timeline tab and wire the endpoints ``timeline`` and ``timeline_curves``.

    Returns its components and, under ``"refresh"``, the (handler, outputs) pairs that redraw it
    after the run or its variants change without a user edit.
    """
    with gr.Row():
        variants = gr.Dropdown(
            label="Variants",
            choices=[],
            multiselect=True,
            interactive=True,
            allow_custom_value=True,
            scale=3,
            elem_id="timeline-variants",
        )
        play = gr.Button("▶ Play", scale=0, elem_id="timeline-play")
    # The page narrows the range to the run's finished epochs on load. Gradio checks API calls
    # against the static maximum, so it must cover epochs finished after startup.
    epoch = gr.Slider(1, API_EPOCH_LIMIT, value=1, step=1, label="Epoch", elem_id="timeline-epoch")
    status = gr.Markdown(label="status", elem_id="timeline-status")
    frames = gr.Gallery(label="Tracked images", columns=4, height="auto", elem_id="timeline-frames")
    curves = gr.Plot(label="Curves")
    curves_status = gr.Markdown(label="curves status")
    timer = gr.Timer(PLAY_INTERVAL_S, active=False)
    playing = gr.State(False)

    # Frames and curves are separate endpoints, so a slider step shows the frames without
    # waiting for the figure.
    endpoints = [
        ("timeline", timeline_frames, [frames, status], lambda: ([],)),
        ("timeline_curves", timeline_curves, [curves, curves_status], lambda: (None,)),
    ]
    # Variant edits trigger on .input, the user's own edits: with .change, a Variants box in a
    # tab opened a few seconds after page load kept re-sending change events, 6 to 7 requests a
    # second (Gradio 6.31). Programmatic updates refresh the view through the returned "refresh".
    # NOTE: that loop showed on a 20-epoch run but not on the test suite's smoke run, so no test
    # guards against its return.
    refresh = []
    for api_name, handler, outputs, empty in endpoints:
        render = reports_errors(empty)(functools.partial(handler, services))
        gr.on(
            triggers=[epoch.change, variants.input],
            fn=render,
            inputs=[run_box, variants, epoch],
            outputs=outputs,
            api_name=api_name,
            trigger_mode="always_last",
        )
        refresh.append((render, outputs))

    def update_span(run: str, names: list[str], number: float) -> gr.Slider:
        try:
            top = epoch_span(services, run, names)
        except (StoreError, ValueError):
            return gr.Slider()
        return gr.Slider(minimum=1, maximum=slider_maximum(top), value=min(max(int(number), 1), max(top, 1)))

    variants.input(update_span, [run_box, variants, epoch], epoch, api_visibility="private")

    def toggle(is_playing: bool) -> tuple:
        now_playing = not is_playing
        return now_playing, gr.Timer(active=now_playing), gr.Button("⏸ Pause" if now_playing else "▶ Play")

    play.click(toggle, playing, [playing, timer, play], api_visibility="private")

    def advance(run: str, names: list[str], number: float) -> int:
        try:
            top = epoch_span(services, run, names)
        except (StoreError, ValueError):
            return int(number)
        return 1 if int(number) >= top else int(number) + 1

    timer.tick(advance, [run_box, variants, epoch], epoch, api_visibility="private")
    return {"variants": variants, "epoch": epoch, "frames": frames, "refresh": refresh}
