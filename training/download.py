"""Fetch and unpack PASCAL VOC 2012 with torchvision's downloader (about 2 GB, needs internet)."""

from __future__ import annotations

import logging
from pathlib import Path

from torchvision.datasets import VOCSegmentation

from dropseg.data import find_voc_root, read_split

_logger = logging.getLogger(__name__)

__all__ = ["download_voc", "existing_voc"]


def existing_voc(root: Path) -> Path | None:
    """Return the VOC root under ``root`` if it already contains the data set with both split
    lists, else None."""
    try:
        found = find_voc_root(root)
        read_split(found, "train")
        read_split(found, "val")
    except (FileNotFoundError, ValueError):
        return None
    return found


def download_voc(root: Path) -> Path:
    """Download VOCtrainval_11-May-2012.tar into ``root``, check its MD5 and unpack it, unless
    ``root`` already contains the data set; return the folder to pass as ``--data``."""
    found = existing_voc(root)
    if found is not None:
        _logger.info("VOC 2012 already present under %s; nothing to download", found)
        return found
    root.mkdir(parents=True, exist_ok=True)
    _logger.info("downloading PASCAL VOC 2012 (about 2 GB) into %s", root)
    # torchvision checks the archive's MD5 before unpacking it.
    VOCSegmentation(str(root), year="2012", image_set="train", download=True)
    return find_voc_root(root)
