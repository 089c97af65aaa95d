"""The EfficientNet-Lite0 weight mapping, proven on real VOC photos: with the renamed ImageNet
weights, timm's classifier names what the photos show."""

from __future__ import annotations

import pytest
import timm
import torch
from torchvision.transforms import v2

from dropseg.data import load_pair
from dropseg.models import input_normalization
from dropseg.models.pretrained import efficientnet_lite0_imagenet_state_dict, lukemelas_to_timm

AIRLINER = 404
OX = 345
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def classifier():
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
    model.load_state_dict(efficientnet_lite0_imagenet_state_dict(), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def preprocess():
    mean, std = input_normalization("efficientnet_lite0")
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(256),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        ("2007_000033", {AIRLINER}),
        ("2007_001288", {AIRLINER}),
        ("2007_000464", {OX}),
        ("2007_001299", {OX}),
        ("2007_001774", set(CAT_CLASSES)),
        ("2007_002445", set(CAT_CLASSES)),
    ],
)
def test_voc_photo_classified(classifier, preprocess, voc_root, image_id, expected):
    photo, _ = load_pair(voc_root, image_id)
    with torch.no_grad():
        top1 = classifier(preprocess(photo).unsqueeze(0)).argmax(1).item()
    assert top1 in expected


def test_mapping_covers_every_timm_key():
    timm_keys = set(timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict())
    assert set(efficientnet_lite0_imagenet_state_dict()) == timm_keys


def test_mapping_rejects_unknown_key():
    with pytest.raises(KeyError, match="_blocks.0._se_reduce"):
        lukemelas_to_timm({"_blocks.0._se_reduce.weight": torch.zeros(1)})
