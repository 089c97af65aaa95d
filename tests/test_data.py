"""VOC reading, the class-balanced subset and the joint transforms, on the real VOC sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dropseg.data import (
    VOCPairs,
    check_ids,
    class_balanced_subset,
    class_counts,
    class_presence,
    find_voc_root,
    load_pair,
    read_split,
    train_transforms,
    val_transforms,
)
from dropseg.labels import VOC_PALETTE
from dropseg.models import IMAGENET_MEAN, IMAGENET_STD

VALID_LABELS = set(range(21)) | {255}


@pytest.fixture(scope="module")
def train_presence(voc_root):
    return class_presence(voc_root, read_split(voc_root, "train"))


def test_splits_of_the_sample(voc_root):
    assert len(read_split(voc_root, "train")) == 558
    assert len(read_split(voc_root, "val")) == 553
    assert len(read_split(voc_root, "train", official_full=True)) == 1464
    assert len(read_split(voc_root, "val", official_full=True)) == 1449


def test_find_voc_root_accepts_inner_folders(voc_root):
    assert find_voc_root(voc_root / "VOCdevkit") == voc_root
    assert find_voc_root(voc_root / "VOCdevkit" / "VOC2012") == voc_root


def test_find_voc_root_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="VOCtrainval_11-May-2012.tar"):
        find_voc_root(tmp_path)


def test_ids_without_files_reported(voc_root):
    full_train = read_split(voc_root, "train", official_full=True)
    with pytest.raises(FileNotFoundError, match=r"\d+ of 1464 ids have no image or label"):
        check_ids(voc_root, full_train)


def test_invalid_id_rejected(voc_root):
    with pytest.raises(ValueError, match="invalid VOC image id"):
        check_ids(voc_root, ["../../etc/passwd"])


def test_class_presence_counts_sample(train_presence):
    # Images per class of the train sample, as documented with the data.
    expected = [36, 28, 38, 33, 39, 36, 47, 38, 70, 25, 42, 49, 31, 30, 192, 32, 23, 42, 33, 39]
    assert list(class_counts(train_presence).values()) == expected


def test_subset_meets_every_class_quota(train_presence):
    totals = class_counts(train_presence)
    subset = class_balanced_subset(train_presence, 0.1, seed=0)
    counts = class_counts(train_presence, subset)
    for cls, total in totals.items():
        assert counts[cls] >= max(1, round(0.1 * total)), cls
    # The rarest class is filled first, so it gets exactly its quota.
    rarest = min(totals, key=totals.get)
    assert counts[rarest] == round(0.1 * totals[rarest])
    # Co-occurring classes share images, so the subset is far smaller than the sum of quotas.
    assert 40 <= len(subset) <= sum(max(1, round(0.1 * t)) for t in totals.values())


def test_subset_counts_for_seed_zero(train_presence):
    subset = class_balanced_subset(train_presence, 0.1, seed=0)
    assert len(subset) == 56
    assert class_counts(train_presence, subset) == {
        1: 4, 2: 3, 3: 4, 4: 3, 5: 6, 6: 4, 7: 6, 8: 4, 9: 7, 10: 3,
        11: 5, 12: 5, 13: 3, 14: 3, 15: 22, 16: 5, 17: 2, 18: 4, 19: 3, 20: 4,
    }  # fmt: skip


def test_subset_is_deterministic(train_presence):
    first = class_balanced_subset(train_presence, 0.1, seed=3)
    assert class_balanced_subset(dict(reversed(list(train_presence.items()))), 0.1, seed=3) == first
    assert class_balanced_subset(train_presence, 0.1, seed=4) != first


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_subset_fraction_out_of_range(train_presence, fraction):
    with pytest.raises(ValueError, match="fraction must be in"):
        class_balanced_subset(train_presence, fraction)


def palette_coded_pair(photo: Image.Image, block: int = 32) -> tuple[Image.Image, Image.Image]:
    """Build a label from the photo's content, one class per block by brightness, and a photo
    painted in each block's class colour, so every pixel's colour names its label."""
    gray = np.asarray(photo.convert("L"), dtype=np.float32)
    height, width = (gray.shape[0] // block) * block, (gray.shape[1] // block) * block
    blocks = gray[:height, :width].reshape(height // block, block, width // block, block).mean(axis=(1, 3))
    classes = 1 + np.clip(blocks / 256 * 20, 0, 19).astype(np.uint8)
    label = np.kron(classes, np.ones((block, block), dtype=np.uint8))
    painted = Image.fromarray(VOC_PALETTE[label])
    label_image = Image.fromarray(label, mode="L")
    return painted, label_image


def decode_palette(image: torch.Tensor) -> torch.Tensor:
    """Map each pixel of a normalized (3, H, W) tensor to the nearest palette entry 0..20."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = (image * std + mean) * 255
    palette = torch.tensor(VOC_PALETTE[:21], dtype=torch.float32)
    distance = ((rgb.permute(1, 2, 0).unsqueeze(2) - palette) ** 2).sum(-1)
    return distance.argmin(-1)


def interior(label: torch.Tensor, margin: int = 3) -> torch.Tensor:
    """Pixels whose (2 margin + 1) square neighbourhood contains a single label value."""
    values = label.float()[None, None]
    size = 2 * margin + 1
    high = F.max_pool2d(values, size, stride=1, padding=margin)
    low = -F.max_pool2d(-values, size, stride=1, padding=margin)
    return (high == low)[0, 0]


def agreement(image: torch.Tensor, label: torch.Tensor) -> float:
    keep = interior(label) & (label != 255)
    return (decode_palette(image)[keep] == label[keep]).float().mean().item()


@pytest.mark.parametrize("seed", range(6))
def test_train_transforms_keep_image_and_label_aligned(voc_root, seed):
    photo, _ = load_pair(voc_root, read_split(voc_root, "train")[seed])
    painted, label = palette_coded_pair(photo)
    transform = train_transforms(161, IMAGENET_MEAN, IMAGENET_STD)

    torch.manual_seed(seed)
    image, target = transform(painted, label)

    assert image.shape == (3, 161, 161)
    assert target.shape == (161, 161)
    assert agreement(image, target) > 0.99
    # Flipping the label alone breaks the pairing, which the check above would catch.
    assert agreement(image, target.flip(-1)) < 0.9
    # Padding: the photo is black (0 before normalization) wherever the label is padded with 255.
    padded = interior(target) & (target == 255)
    if padded.any():
        black = decode_palette(image)[padded]
        assert (black == 0).float().mean().item() > 0.99


def test_train_transforms_vary_with_seed(voc_root):
    photo, label = load_pair(voc_root, read_split(voc_root, "train")[0])
    transform = train_transforms(129, IMAGENET_MEAN, IMAGENET_STD)
    torch.manual_seed(0)
    first = transform(photo, label)[0]
    torch.manual_seed(1)
    second = transform(photo, label)[0]
    torch.manual_seed(0)
    again = transform(photo, label)[0]
    assert not torch.equal(first, second)
    assert torch.equal(first, again)


def test_labels_keep_valid_values(voc_root):
    ids = read_split(voc_root, "train")[:25]
    dataset = VOCPairs(voc_root, ids, train_transforms(193, IMAGENET_MEAN, IMAGENET_STD))
    torch.manual_seed(0)
    for index in range(len(dataset)):
        image, target = dataset[index]
        assert image.dtype == torch.float32
        assert target.dtype == torch.int64
        assert set(target.unique().tolist()) <= VALID_LABELS


def test_val_transforms_center_crop(voc_root):
    image_id = read_split(voc_root, "val")[0]
    photo, label = load_pair(voc_root, image_id)
    image, target = val_transforms(257, IMAGENET_MEAN, IMAGENET_STD)(photo, label)
    assert image.shape == (3, 257, 257)
    assert target.shape == (257, 257)
    assert set(target.unique().tolist()) <= VALID_LABELS


def test_val_transforms_full_image(voc_root):
    image_id = read_split(voc_root, "val")[0]
    photo, label = load_pair(voc_root, image_id)
    image, target = val_transforms(None, IMAGENET_MEAN, IMAGENET_STD)(photo, label)
    assert image.shape == (3, photo.height, photo.width)
    assert torch.equal(target, torch.from_numpy(np.array(label)).long())


@pytest.mark.parametrize("crop_size", [0, 16, 100.5])
def test_crop_size_out_of_range(crop_size):
    with pytest.raises(ValueError, match="crop_size"):
        train_transforms(crop_size, IMAGENET_MEAN, IMAGENET_STD)


def test_voc_pairs_rejects_missing_ids(voc_root):
    with pytest.raises(FileNotFoundError, match="2007_999999"):
        VOCPairs(voc_root, ["2007_999999"])
