"""DeepLabV3+ variants of the experiment matrix."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from ..regularizers import build_regularizer
from ..variants import Variant, parse_variant
from .backbones import BACKBONES, build_backbone
from .deeplab import ASPP, Decoder, DeepLabV3Plus
from .pretrained import load_backbone_weights

_logger = logging.getLogger(__name__)

__all__ = ["BACKBONES", "DeepLabV3Plus", "build_model", "input_normalization"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The TensorFlow Lite models were trained on inputs scaled to [-1, 1].
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

_DEFAULT_OPTIONS = {
    "aspp_channels": 256,
    "decoder_channels": 256,
    "low_level_channels": 48,
    "dropblock_size": 7,
}


def input_normalization(backbone: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the (mean, std) of RGB values in [0, 1] that the ImageNet weights of
    ``backbone`` were trained with."""
    if backbone == "efficientnet_lite0":
        return INCEPTION_MEAN, INCEPTION_STD
    return IMAGENET_MEAN, IMAGENET_STD


def build_model(
    variant: str | Variant = "none",
    backbone: str = "resnet50",
    num_classes: int = 21,
    output_stride: int = 16,
    pretrained_backbone: str | Path | None = None,
    drop_prob: float = 0.2,
    **options: int,
) -> DeepLabV3Plus:
    """Build DeepLabV3+ for one variant of the experiment matrix.

    Args:
        variant: a name accepted by :func:`dropseg.variants.parse_variant`, such as
            ``"none"`` or ``"all-chandrop-sched"``.
        backbone: one of ``resnet18``, ``resnet34``, ``resnet50``, ``resnet101`` and
            ``efficientnet_lite0``.
        num_classes: number of output classes (21 for PASCAL VOC).
        output_stride: 16 (last stage dilated) or 8 (last two stages dilated). ASPP rates are
            6, 12, 18 at 16 and doubled at 8.
        pretrained_backbone: ``None`` for random weights, ``"imagenet"``, or the path of a
            weights file (see :func:`dropseg.models.pretrained.load_backbone_weights`).
        drop_prob: the regularizers' drop probability; a schedule may change it later with
            :func:`dropseg.regularizers.set_drop_prob`.
        **options: ``aspp_channels`` (256), ``decoder_channels`` (256), ``low_level_channels``
            (48, the width the low-level features are reduced to) and ``dropblock_size`` (7).

    Returns:
        A :class:`DeepLabV3Plus` with the attributes ``variant`` and ``backbone_name``.
    """
    unknown = set(options) - set(_DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; valid options: {', '.join(_DEFAULT_OPTIONS)}")
    settings = {**_DEFAULT_OPTIONS, **options}
    for key, value in settings.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    if not isinstance(variant, Variant):
        variant = parse_variant(variant)

    encoder = build_backbone(backbone, output_stride)
    if pretrained_backbone is not None:
        load_backbone_weights(encoder, backbone, pretrained_backbone)

    rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
    aspp = ASPP(encoder.out_channels, settings["aspp_channels"], rates)
    decoder = Decoder(
        settings["aspp_channels"],
        encoder.low_level_channels,
        num_classes,
        low_level_channels=settings["low_level_channels"],
        channels=settings["decoder_channels"],
    )
    model = DeepLabV3Plus(encoder, aspp, decoder)
    _attach_regularizers(model, variant, drop_prob, settings["dropblock_size"])

    model.variant = variant
    model.backbone_name = backbone
    return model


def _attach_regularizers(model: DeepLabV3Plus, variant: Variant, drop_prob: float, block_size: int) -> None:
    if variant.regularizer is None:
        return

    def make() -> nn.Module:
        return build_regularizer(variant.regularizer, drop_prob, block_size=block_size)

    if "backbone" in variant.sites:
        model.backbone.attach_regularizers(make)
    if "spp" in variant.sites:
        model.aspp.drop = make()
    if "decoder" in variant.sites:
        model.decoder.drop = make()
