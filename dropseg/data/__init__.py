"""PASCAL VOC 2012 data: reading, the class-balanced subset and joint transforms."""

from .subset import class_balanced_subset, class_counts
from .transforms import RandomScale, ToSegmentationTensors, train_transforms, val_transforms
from .voc import (
    DATA_ENV,
    VOCPairs,
    check_ids,
    class_presence,
    default_data_root,
    find_voc_root,
    load_pair,
    read_split,
)

__all__ = [
    "DATA_ENV",
    "RandomScale",
    "ToSegmentationTensors",
    "VOCPairs",
    "check_ids",
    "class_balanced_subset",
    "class_counts",
    "class_presence",
    "default_data_root",
    "find_voc_root",
    "load_pair",
    "read_split",
    "train_transforms",
    "val_transforms",
]
