"""The in-memory training pairs and the loader built on them, on real VOC pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dropseg.data import load_pair, read_split
from dropseg.labels import IGNORE_INDEX, NUM_CLASSES
from dropseg.models import IMAGENET_MEAN, IMAGENET_STD
from training.config import resolve_study
from training.data import TrainingPairs, build_train_loader


@pytest.fixture(scope="module")
def train_ids(voc_root):
    return read_split(voc_root, "train")[:6]


def test_base_size_shrinks_the_shorter_side(voc_root, train_ids):
    pairs = TrainingPairs(voc_root, train_ids, base_size=129)

    for image_id, (photo, label) in zip(train_ids, pairs):
        original, _ = load_pair(voc_root, image_id)
        assert min(photo.size) == 129
        assert label.size == photo.size
        # The aspect ratio survives up to the rounding of the longer side.
        ratio = max(original.size) / min(original.size)
        assert max(photo.size) == pytest.approx(129 * ratio, abs=1)


def test_shrunk_labels_keep_only_their_classes(voc_root, train_ids):
    pairs = TrainingPairs(voc_root, train_ids, base_size=129)

    for image_id, (_, label) in zip(train_ids, pairs):
        _, original = load_pair(voc_root, image_id)
        # Nearest-neighbour sampling never invents a value between two classes.
        assert set(np.unique(np.asarray(label))) <= set(np.unique(np.asarray(original)))


def test_no_base_size_keeps_full_size(voc_root, train_ids):
    pairs = TrainingPairs(voc_root, train_ids[:2])

    for image_id, (photo, _) in zip(train_ids, pairs):
        assert photo.size == load_pair(voc_root, image_id)[0].size


def test_loader_batches_are_seeded_by_epoch(voc_root, train_ids):
    study = resolve_study("smoke", {"batch_size": 2})
    pairs = TrainingPairs(voc_root, train_ids, study.train_base_size)

    def first_batch(seed):
        torch.manual_seed(1234)
        photos, labels = next(iter(build_train_loader(pairs, study, IMAGENET_MEAN, IMAGENET_STD, seed, 0)))
        return photos, labels

    photos, labels = first_batch(7)
    again, _ = first_batch(7)
    other, _ = first_batch(8)

    assert photos.shape == (2, 3, study.crop_size, study.crop_size)
    assert labels.dtype == torch.int64
    assert set(labels.unique().tolist()) <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
    assert torch.equal(photos, again)
    assert not torch.equal(photos, other)
