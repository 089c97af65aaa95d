"""Compare view: one image segmented by several variants side by side, with a legend, a map of
where they disagree, per-image mIoU for validation images and Monte Carlo dropout uncertainty."""

from __future__ import annotations

import functools
import math

import gradio as gr
import numpy as np
from PIL import Image

from dropseg.labels import blend, draw_legend, present_classes

from ..imagefiles import image_file
from ..inference import MAX_MC_PASSES, Prediction
from ..plots import disagreement_map, entropy_image
from ..services import Services
from ..store import BEST_EPOCH, StoreError
from ..uploads import load_upload
from .common import check_variants, reports_errors

__all__ = ["build", "compare"]

DEFAULT_OPACITY = 0.6


def _empty() -> tuple:
    return [], [], None, None, None, ""


def compare(
    services: Services,
    run: str,
    upload: str | None,
    image_id: str | None,
    variants: list[str],
    epoch: str,
    opacity: float,
    passes: float,
) -> tuple:
    """Segment one image with each variant.

    Returns (overlays, uncertainty maps, ground truth, legend, disagreement map, mIoU table,
    status). An upload wins over a validation image. Variants whose epoch or weights are
    unavailable are reported in the status and the others are still shown.
    """
    store = services.store
    names = check_variants(variants)
    passes = int(passes or 0)
    if not 0 <= passes <= MAX_MC_PASSES:
        raise ValueError(f"invalid number of Monte Carlo passes {passes}; use 0 (off) to {MAX_MC_PASSES}")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"invalid opacity {opacity}; use a value in [0, 1]")

    label = None
    if upload:
        photo = load_upload(upload)
        model_input = photo
    elif image_id:
        photo = store.photo(run, image_id)
        label = store.label(run, image_id)
        crop = int(store.run_record(run)["config"]["crop_size"])
        # The stored copy is the validation crop shrunk to at most 256 pixels, so it is resized
        # back to the crop size the model was validated at.
        model_input = photo if photo.size == (crop, crop) else photo.resize((crop, crop), Image.BILINEAR)
    else:
        raise ValueError("no image: upload a photo or pick a validation image")

    overlays, uncertainty, label_maps, rows, problems = [], [], [], [], []
    for variant in names:
        try:
            key = store.key(run, variant)
            chosen = store.resolve_epoch(key, epoch)
            prediction = _resize(services.predictor.predict(model_input, key, chosen, passes), photo.size)
        except StoreError as error:
            problems.append(f"{variant}: {error}")
            continue
        caption = f"{variant} · epoch {chosen}"
        if image_id and not upload:
            value = store.per_image(key, chosen).get(image_id, math.nan)
            caption += f" · per-image mIoU {value:.3f}"
            rows.append(f"| {variant} | {chosen} | {value:.3f} |")
        overlays.append((image_file(blend(photo, prediction.labels, float(opacity))), caption))
        label_maps.append(prediction.labels)
        if prediction.entropy is not None:
            uncertainty.append(
                (image_file(entropy_image(prediction.entropy)), f"{caption} · entropy of {passes} passes")
            )

    if not label_maps:
        raise StoreError("no variant could segment the image: " + "; ".join(problems))

    ground_truth = None if label is None else image_file(blend(photo, label, max(float(opacity), 0.6)))
    legend = image_file(draw_legend(present_classes([*label_maps, *([] if label is None else [label])])))
    disagreement, share = disagreement_map(photo, label_maps)
    table = ""
    if rows:
        table = (
            "| variant | epoch | per-image mIoU (stored at training) |\n| --- | --- | --- |\n"
            + "\n".join(rows)
        )

    status = f"{len(label_maps)} variant(s) on a {photo.width} x {photo.height} image; "
    status += f"they disagree on {share:.1%} of the pixels (red in the disagreement map)."
    if passes:
        status += (
            f" Uncertainty: predictive entropy of {passes} passes with the regularizers active, 0 to log(21)."
        )
    if problems:
        status += "\n\n**Not shown:** " + "; ".join(problems)
        gr.Warning("; ".join(problems))
    return overlays, uncertainty, ground_truth, legend, image_file(disagreement), table, status


def _resize(prediction: Prediction, size: tuple[int, int]) -> Prediction:
    """Bring a prediction to the displayed image size (nearest for labels, bilinear for entropy)."""
    if prediction.labels.shape[::-1] == size:
        return prediction
    labels = np.asarray(Image.fromarray(prediction.labels).resize(size, Image.NEAREST))
    entropy = None
    if prediction.entropy is not None:
        entropy_map = Image.fromarray(prediction.entropy.astype(np.float32), mode="F")
        entropy = np.asarray(entropy_map.resize(size, Image.BILINEAR))
    return Prediction(labels, entropy)


def build(services: Services, run_box: gr.Dropdown) -> dict[str, gr.components.Component]:
    """Lay out the Compare tab and wire its endpoint ``compare``; return the components whose
    choices depend on the run."""
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(
                label="Upload a photo (used instead of the validation image)",
                type="filepath",
                elem_id="compare-upload",
            )
            image_id = gr.Dropdown(
                label="Validation image", choices=[], interactive=True, allow_custom_value=True
            )
            variants = gr.Dropdown(
                label="Variants", choices=[], multiselect=True, interactive=True, allow_custom_value=True
            )
            epoch = gr.Dropdown(
                label="Epoch (best: each variant's best)",
                choices=[BEST_EPOCH],
                value=BEST_EPOCH,
                interactive=True,
                allow_custom_value=True,
            )
            opacity = gr.Slider(0.0, 1.0, value=DEFAULT_OPACITY, step=0.05, label="Overlay opacity")
            passes = gr.Slider(
                0,
                MAX_MC_PASSES,
                value=0,
                step=1,
                label="Monte Carlo dropout passes (0: off)",
                elem_id="mc-passes",
            )
            button = gr.Button("Compare", variant="primary", elem_id="compare-button")
        with gr.Column(scale=3):
            status = gr.Markdown(label="status", elem_id="compare-status")
            overlays = gr.Gallery(label="Predictions", columns=4, height="auto", elem_id="compare-overlays")
            uncertainty = gr.Gallery(label="Uncertainty (predictive entropy)", columns=4, height="auto")
            with gr.Row():
                ground_truth = gr.Image(label="Ground truth", type="filepath", interactive=False)
                # Gradio draws an image's label over its top-left corner, where the legend's first
                # class would hide, so this title sits above the image instead.
                with gr.Column(min_width=160):
                    gr.Markdown("**Classes shown**")
                    legend = gr.Image(
                        label="Classes shown",
                        show_label=False,
                        type="filepath",
                        interactive=False,
                        elem_id="compare-legend",
                    )
                disagreement = gr.Image(label="Disagreement (red)", type="filepath", interactive=False)
            table = gr.Markdown(label="per-image mIoU", elem_id="compare-table")

    handler = reports_errors(_empty)(functools.partial(compare, services))
    gr.on(
        triggers=[button.click, opacity.release],
        fn=handler,
        inputs=[run_box, upload, image_id, variants, epoch, opacity, passes],
        outputs=[overlays, uncertainty, ground_truth, legend, disagreement, table, status],
        api_name="compare",
        concurrency_limit=2,
    )
    return {"image_id": image_id, "variants": variants, "epoch": epoch}
