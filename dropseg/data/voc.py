"""PASCAL VOC 2012 segmentation data in the official folder layout.

``root`` is the folder that contains ``VOCdevkit/VOC2012``, the argument torchvision's
``VOCSegmentation`` takes. The split lists come from ``ImageSets/Segmentation/<split>.txt``.
With ``official_full=True`` they come from ``official_full/`` instead, where a partial copy of
the data set may keep the complete official lists beside its own.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import VOCSegmentation

from ..labels import IGNORE_INDEX, NUM_CLASSES

_logger = logging.getLogger(__name__)

__all__ = [
    "DATA_ENV",
    "SPLITS",
    "VOCPairs",
    "check_ids",
    "class_presence",
    "default_data_root",
    "find_voc_root",
    "load_pair",
    "read_split",
]

DATA_ENV = "DROPSEG_DATA"
SPLITS = ("train", "val", "trainval")
VOC_SUBDIR = Path("VOCdevkit") / "VOC2012"
_IMAGE_ID = re.compile(r"^\d{4}_\d{6}$")

GET_VOC_HINT = (
    "Download PASCAL VOC 2012 (VOCtrainval_11-May-2012.tar) and unpack it so that "
    "<root>/VOCdevkit/VOC2012/JPEGImages exists, then pass --data <root> or set DROPSEG_DATA=<root>"
)


def find_voc_root(path: str | Path) -> Path:
    """Return the folder that contains ``VOCdevkit/VOC2012``.

    ``path`` may be that folder, the ``VOCdevkit`` folder or the ``VOC2012`` folder.

    Raises:
        FileNotFoundError: if no VOC 2012 folder is found there; the message explains how to get one.
    """
    path = Path(path).expanduser().resolve()
    for candidate in (path, path.parent, path.parent.parent):
        if (candidate / VOC_SUBDIR / "JPEGImages").is_dir():
            return candidate
    raise FileNotFoundError(f"no VOC 2012 data set at {path}. {GET_VOC_HINT}")


def default_data_root() -> Path | None:
    """Return the VOC root from ``$DROPSEG_DATA``, ``./data`` or ``../shared/data``, or None."""
    candidates = [os.environ.get(DATA_ENV), "data", "../shared/data"]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return find_voc_root(candidate)
        except FileNotFoundError:
            if candidate == os.environ.get(DATA_ENV):
                raise
    return None


def read_split(root: str | Path, split: str, official_full: bool = False) -> list[str]:
    """Return the image ids of a split (``train``, ``val`` or ``trainval``) in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    folder = find_voc_root(root) / VOC_SUBDIR / "ImageSets" / "Segmentation"
    if official_full:
        folder = folder / "official_full"
    list_file = folder / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"split list not found: {list_file}")

    ids = [line.strip() for line in list_file.read_text().splitlines() if line.strip()]
    bad = [image_id for image_id in ids if not _IMAGE_ID.match(image_id)]
    if bad:
        raise ValueError(f"{list_file} contains invalid image ids such as {bad[0]!r} (expected YYYY_NNNNNN)")
    return ids


def _pair_paths(root: Path, image_id: str) -> tuple[Path, Path]:
    if not _IMAGE_ID.match(image_id):
        raise ValueError(f"invalid VOC image id {image_id!r} (expected YYYY_NNNNNN)")
    base = root / VOC_SUBDIR
    return base / "JPEGImages" / f"{image_id}.jpg", base / "SegmentationClass" / f"{image_id}.png"


def check_ids(root: str | Path, ids: Sequence[str]) -> None:
    """Raise ``FileNotFoundError`` naming the ids whose image or label file is missing."""
    root = find_voc_root(root)
    missing = [image_id for image_id in ids if not all(p.is_file() for p in _pair_paths(root, image_id))]
    if missing:
        listed = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise FileNotFoundError(
            f"{len(missing)} of {len(ids)} ids have no image or label under {root / VOC_SUBDIR}: {listed}"
        )


def load_pair(root: str | Path, image_id: str) -> tuple[Image.Image, Image.Image]:
    """Return the RGB photo and the palette label image of one id."""
    image_path, label_path = _pair_paths(find_voc_root(root), image_id)
    with Image.open(image_path) as image, Image.open(label_path) as label:
        return image.convert("RGB"), label.copy()


def class_presence(root: str | Path, ids: Sequence[str]) -> dict[str, frozenset[int]]:
    """Return, for each id, the object classes (1..20) its label shows; background and the
    ignore label are left out."""
    root = find_voc_root(root)
    presence = {}
    for image_id in ids:
        with Image.open(_pair_paths(root, image_id)[1]) as label:
            counts = np.bincount(np.asarray(label).reshape(-1), minlength=256)
        counts[0] = counts[IGNORE_INDEX] = 0
        presence[image_id] = frozenset(int(c) for c in np.flatnonzero(counts[:NUM_CLASSES]))
    return presence


class VOCPairs(Dataset):
    """Image and label pairs of chosen VOC ids, read through torchvision's ``VOCSegmentation``.

    Args:
        root: folder that contains ``VOCdevkit/VOC2012``.
        ids: the image ids to serve, in order.
        transforms: a callable taking and returning ``(image, label)``; it gets PIL images.
    """

    def __init__(self, root: str | Path, ids: Sequence[str], transforms: Callable | None = None) -> None:
        self.root = find_voc_root(root)
        check_ids(self.root, ids)
        self.ids = list(ids)
        # VOCSegmentation reads its split file only to locate the data set, so its id lists are replaced.
        self._voc = VOCSegmentation(str(self.root), year="2012", image_set="trainval", transforms=transforms)
        paths = [_pair_paths(self.root, image_id) for image_id in self.ids]
        self._voc.images = [str(image) for image, _ in paths]
        self._voc.targets = [str(label) for _, label in paths]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        return self._voc[index]
