"""Image selection of a run, the in-memory training and validation sets, and the training loader."""

from __future__ import annotations

import io
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from dropseg import runs
from dropseg.data import (
    ToSegmentationTensors,
    check_ids,
    class_balanced_subset,
    class_presence,
    load_pair,
    read_split,
    train_transforms,
)
from dropseg.labels import VOC_CLASSES, palette_bytes

from .config import ConfigError, StudyConfig

_logger = logging.getLogger(__name__)

__all__ = [
    "DataSelection",
    "TrainingPairs",
    "ValidationSet",
    "build_train_loader",
    "resize_shorter_side",
    "select_data",
]

# Classes of the default tracked images, in order. Spilsbury and Camps 2019 track a tvmonitor
# image and a cow image, and person and aeroplane add a frequent class and an outdoor scene.
TRACKED_CLASSES = ("tvmonitor", "cow", "person", "aeroplane")


@dataclass(frozen=True)
class DataSelection:
    """The ids a run trains and validates on, and the validation ids whose predictions every
    epoch stores."""

    train_ids: list[str]
    val_ids: list[str]
    tracked_ids: list[str]


def select_data(root: Path, config: StudyConfig) -> DataSelection:
    """Choose the training subset, the validation list and the tracked images.

    Training: the class-balanced subset of ``train`` (see :func:`class_balanced_subset`), then
    at most ``max_train_images`` of it in id order. Validation: the first ``max_val_images``
    ids of ``val`` in list order, or all. Tracked: ``config.track`` if given, otherwise the
    first validation id showing each class of :data:`TRACKED_CLASSES`.

    Raises:
        FileNotFoundError: if a split list or an image or label file is missing.
        ConfigError: if a requested tracked id is not a validation id, or the training subset
            is smaller than one batch.
    """
    train_split = read_split(root, "train", official_full=config.official_full)
    val_ids = read_split(root, "val", official_full=config.official_full)[: config.max_val_images]
    check_ids(root, train_split)
    check_ids(root, val_ids)

    train_ids = class_balanced_subset(
        class_presence(root, train_split), config.train_fraction, config.subset_seed
    )
    train_ids = train_ids[: config.max_train_images]
    if len(train_ids) < config.batch_size:
        raise ConfigError(
            f"the training subset has {len(train_ids)} images, fewer than the batch size "
            f"{config.batch_size}; raise --train-fraction or lower --batch-size"
        )

    if config.track is not None:
        unknown = [image_id for image_id in config.track if image_id not in val_ids]
        if unknown:
            raise ConfigError(
                f"tracked ids {', '.join(unknown)} are not among the {len(val_ids)} validation ids"
            )
        tracked = list(config.track)
    else:
        tracked = _default_tracked(class_presence(root, val_ids), val_ids)
    return DataSelection(train_ids, val_ids, tracked)


def _default_tracked(presence: dict[str, frozenset[int]], val_ids: list[str]) -> list[str]:
    tracked: list[str] = []
    for name in TRACKED_CLASSES:
        index = VOC_CLASSES.index(name)
        match = next((i for i in val_ids if index in presence[i] and i not in tracked), None)
        if match is not None:
            tracked.append(match)
    return tracked


class ValidationSet:
    """Validation images decoded once, resized (shorter side to ``crop_size``) and centre
    cropped, kept as uint8 photos and int64 labels so that memory stays at 1 byte per colour
    value; :meth:`batches` normalizes on the fly.
    """

    def __init__(self, root: Path, ids: list[str], crop_size: int) -> None:
        view = v2.Compose(
            [ToSegmentationTensors(), v2.Resize(crop_size, antialias=True), v2.CenterCrop(crop_size)]
        )
        photos, labels = [], []
        for image_id in ids:
            photo, label = view(*load_pair(root, image_id))
            photos.append(photo.as_subclass(Tensor))
            labels.append(label.as_subclass(Tensor).long())
        self.ids = list(ids)
        self.photos = torch.stack(photos)
        self.labels = torch.stack(labels)

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, batch_size: int, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device):
        """Yield ``(start index, normalized float photos, labels)`` on ``device``."""
        for start in range(0, len(self.ids), batch_size):
            photos = self.photos[start : start + batch_size].to(device, non_blocking=True).float().div_(255)
            labels = self.labels[start : start + batch_size].to(device, non_blocking=True)
            yield start, TF.normalize(photos, list(mean), list(std)), labels

    def write_copies(self, run_dir: Path) -> None:
        """Write the JPEG photo and palette PNG label of each image, at most ``VIEW_MAX_SIDE``
        pixels on a side, unless the run already has them.

        The copies show the region the model receives, so predictions align with them pixel for
        pixel.
        """
        palette = palette_bytes()
        for index, image_id in enumerate(self.ids):
            photo_path, label_path = runs.image_paths(run_dir, image_id)
            if photo_path.is_file() and label_path.is_file():
                continue
            photo = Image.fromarray(self.photos[index].permute(1, 2, 0).numpy())
            photo = photo.resize(view_size(photo.size), Image.BILINEAR)
            buffer = io.BytesIO()
            photo.save(buffer, format="JPEG", quality=90)
            runs.atomic_write_bytes(photo_path, buffer.getvalue())
            label = downscale_label(self.labels[index].numpy())
            runs.atomic_write_bytes(label_path, runs.png_bytes(label, palette))


def view_size(size: tuple[int, int]) -> tuple[int, int]:
    """Return the (width, height) of an image of ``size`` shrunk to at most VIEW_MAX_SIDE pixels."""
    scale = min(1.0, runs.VIEW_MAX_SIDE / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def downscale_label(label_map: np.ndarray) -> np.ndarray:
    """Shrink an (H, W) label map to the stored view size with nearest-neighbour sampling."""
    image = Image.fromarray(label_map.astype(np.uint8), mode="L")
    return np.asarray(image.resize(view_size(image.size), Image.NEAREST))


class TrainingPairs(Dataset):
    """Training photos and labels decoded once and kept in memory as PIL images, so that an
    epoch spends its time on augmentation and the model rather than on JPEG decoding.

    Args:
        root: folder that contains ``VOCdevkit/VOC2012``.
        ids: the training ids, in order.
        base_size: if given, each pair is resized once so that its shorter side has this many
            pixels (bilinear for the photo, nearest for the label). The random scale of the
            augmentation then applies to that size.
    """

    def __init__(self, root: Path, ids: list[str], base_size: int | None = None) -> None:
        self.ids = list(ids)
        self.pairs = [resize_shorter_side(*load_pair(root, image_id), base_size) for image_id in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[Image.Image, Image.Image]:
        return self.pairs[index]


class _Augmented(Dataset):
    def __init__(self, pairs: TrainingPairs, transforms: v2.Compose) -> None:
        self.pairs = pairs
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        return self.transforms(*self.pairs[index])


def resize_shorter_side(
    photo: Image.Image, label: Image.Image, base_size: int | None
) -> tuple[Image.Image, Image.Image]:
    """Resize a photo (bilinear) and its label (nearest) so that the shorter side is
    ``base_size`` pixels; ``None`` returns them unchanged."""
    if base_size is None:
        return photo, label
    scale = base_size / min(photo.size)
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    return photo.resize(size, Image.BILINEAR), label.resize(size, Image.NEAREST)


def build_train_loader(
    pairs: TrainingPairs,
    config: StudyConfig,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    epoch_seed: int,
    workers: int,
    distributed: bool = False,
) -> DataLoader:
    """Build the loader of one epoch; its shuffle and worker seeds come from ``epoch_seed``.

    A new loader per epoch, seeded by epoch, makes the batches of an epoch independent of how
    many epochs ran in this process, which is what makes resumed runs exact. Incomplete last
    batches are dropped so that every iteration has ``batch_size`` images.
    """
    dataset = _Augmented(pairs, train_transforms(config.crop_size, mean, std, scale_range=config.scale_range))
    generator = torch.Generator().manual_seed(epoch_seed)
    if distributed:
        sampler = DistributedSampler(dataset, shuffle=True, seed=epoch_seed, drop_last=True)
    else:
        sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=True,
        generator=generator,
        worker_init_fn=_seed_worker,
        pin_memory=torch.cuda.is_available(),
    )


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker from the loader's generator; numpy and random follow it here.
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
