"""Best and worst view: the three best, middle and worst validation images of a variant at an
epoch, each as photo, ground truth and stored prediction with its per-image mIoU."""

from __future__ import annotations

import functools
import math

import gradio as gr

from dropseg.labels import blend

from ..imagefiles import image_file
from ..services import Services
from ..store import BEST_EPOCH
from .common import reports_errors

__all__ = ["build", "ranked"]

GROUPS = ("best", "middle", "worst")
OVERLAY_OPACITY = 0.6


def ranked(services: Services, run: str, variant: str, epoch: str) -> tuple:
    """Return (gallery items, status): per ranked image three items, photo, ground truth and
    prediction, in the order best, middle, worst as the epoch's metrics record lists them."""
    store = services.store
    if not variant:
        raise ValueError("no variant selected; pick a variant")
    key = store.key(run, variant)
    chosen = store.resolve_epoch(key, epoch)
    groups = store.metrics(key, chosen).get("predictions", {})
    values = store.per_image(key, chosen)

    items = []
    for group in GROUPS:
        for image_id in groups.get(group, []):
            photo = store.photo(run, image_id)
            value = values.get(image_id, math.nan)
            items.append((image_file(photo), f"{group} · {image_id}"))
            items.append(
                (image_file(blend(photo, store.label(run, image_id), OVERLAY_OPACITY)), "ground truth")
            )
            prediction = blend(photo, store.prediction(key, chosen, image_id), OVERLAY_OPACITY)
            items.append((image_file(prediction), f"{variant} · epoch {chosen} · per-image mIoU {value:.3f}"))
    status = (
        f"{variant} at epoch {chosen}: rows are the best, middle and worst validation images by "
        "per-image mIoU; columns are photo, ground truth and prediction."
    )
    return items, status


def build(services: Services, run_box: gr.Dropdown) -> dict[str, gr.components.Component]:
    """Lay out the Best and worst tab and wire its endpoint ``ranked``."""
    with gr.Row():
        variant = gr.Dropdown(label="Variant", choices=[], interactive=True, allow_custom_value=True)
        epoch = gr.Dropdown(
            label="Epoch", choices=[BEST_EPOCH], value=BEST_EPOCH, interactive=True, allow_custom_value=True
        )
        button = gr.Button("Show", variant="primary", elem_id="ranked-button")
    status = gr.Markdown(label="status", elem_id="ranked-status")
    gallery = gr.Gallery(label="Best, middle and worst", columns=3, height="auto", elem_id="ranked-gallery")
    gr.on(
        triggers=[button.click, variant.input, epoch.input],
        fn=reports_errors(lambda: ([],))(functools.partial(ranked, services)),
        inputs=[run_box, variant, epoch],
        outputs=[gallery, status],
        api_name="ranked",
    )
    return {"variant": variant, "epoch": epoch}
