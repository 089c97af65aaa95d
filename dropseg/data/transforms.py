"""Joint image and label transforms built on ``torchvision.transforms.v2``.

Labels travel as ``tv_tensors.Mask``, so every geometric transform moves them with the image
and resizes them with nearest-neighbour interpolation, which keeps their values in 0..20 and
255. Photometric transforms (blur, normalization) leave them untouched.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..labels import IGNORE_INDEX

__all__ = ["RandomScale", "ToSegmentationTensors", "train_transforms", "val_transforms"]

MIN_CROP_SIZE = 32


class ToSegmentationTensors:
    """Convert a PIL photo and a PIL palette label to ``tv_tensors.Image`` (uint8, 3xHxW) and
    ``tv_tensors.Mask`` (uint8, HxW of class indices)."""

    def __call__(self, image: Image.Image, label: Image.Image) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        if label.mode not in ("P", "L"):
            raise ValueError(
                f"label must be a palette or grayscale image of class indices, got mode {label.mode}"
            )
        photo = TF.pil_to_tensor(image.convert("RGB"))
        mask = torch.from_numpy(np.array(label, dtype=np.uint8))
        return tv_tensors.Image(photo), tv_tensors.Mask(mask)


class RandomScale(v2.Transform):
    """Resize image and label by one factor drawn uniformly from ``scale_range``."""

    def __init__(self, scale_range: tuple[float, float] = (0.5, 2.0)) -> None:
        super().__init__()
        low, high = scale_range
        if not 0.0 < low <= high:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
        self.scale_range = (float(low), float(high))

    def make_params(self, flat_inputs: list) -> dict:
        height, width = v2.query_size(flat_inputs)
        scale = float(torch.empty(1).uniform_(*self.scale_range))
        return {"size": [max(1, round(height * scale)), max(1, round(width * scale))]}

    def transform(self, inpt, params: dict):
        return self._call_kernel(TF.resize, inpt, params["size"], antialias=True)


def _check_crop_size(crop_size: int) -> None:
    if not isinstance(crop_size, int) or crop_size < MIN_CROP_SIZE:
        raise ValueError(
            f"crop_size must be an integer of at least {MIN_CROP_SIZE} pixels, got {crop_size!r}"
        )


def _to_model_input(mean: tuple[float, ...], std: tuple[float, ...]) -> list:
    return [
        v2.ToDtype(
            {tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True
        ),
        v2.Normalize(mean, std),
        v2.ToPureTensor(),
    ]


def train_transforms(
    crop_size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    scale_range: tuple[float, float] = (0.5, 2.0),
    max_blur_sigma: float = 1.0,
) -> v2.Compose:
    """Training augmentation: random scale, random crop (photo padded with 0, label with 255),
    horizontal flip, Gaussian blur of the photo with a sigma (PIL's "radius") drawn from
    (0, ``max_blur_sigma``], then normalization.

    The result maps ``(PIL photo, PIL label)`` to a float (3, crop, crop) tensor and an int64
    (crop, crop) tensor.
    """
    _check_crop_size(crop_size)
    steps = [
        ToSegmentationTensors(),
        RandomScale(scale_range),
        v2.RandomCrop(
            crop_size, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}
        ),
        v2.RandomHorizontalFlip(),
    ]
    if max_blur_sigma > 0:
        # A kernel of 2 * ceil(3 sigma) + 1 taps covers the Gaussian out to three standard deviations.
        kernel = 2 * int(np.ceil(3 * max_blur_sigma)) + 1
        steps.append(v2.GaussianBlur(kernel, sigma=(1e-3, max_blur_sigma)))
    return v2.Compose(steps + _to_model_input(mean, std))


def val_transforms(crop_size: int | None, mean: tuple[float, ...], std: tuple[float, ...]) -> v2.Compose:
    """Validation preprocessing: resize the shorter side to ``crop_size`` and take the centre
    ``crop_size`` square, or keep the full image when ``crop_size`` is None."""
    steps: list = [ToSegmentationTensors()]
    if crop_size is not None:
        _check_crop_size(crop_size)
        steps += [v2.Resize(crop_size, antialias=True), v2.CenterCrop(crop_size)]
    return v2.Compose(steps + _to_model_input(mean, std))
