"""DeepLabV3+ construction, shapes, training with a batch of one and weight loading."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision
from safetensors.torch import save_file

import dropseg
from dropseg.models.pretrained import efficientnet_lite0_imagenet_state_dict
from dropseg.regularizers import ChannelDropout, DropBlock, Regularizer, iter_regularizers

NARROW = {"aspp_channels": 32, "decoder_channels": 32, "low_level_channels": 16}
BACKBONES = ["resnet18", "efficientnet_lite0"]
BLOCKS = {"resnet18": 8, "efficientnet_lite0": 16}


@pytest.fixture(scope="module")
def reference_keys():
    return {
        name: list(dropseg.build_model("none", backbone=name, **NARROW).state_dict()) for name in BACKBONES
    }


@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_variant_has_baseline_keys(backbone, reference_keys):
    for name in dropseg.paper_matrix():
        model = dropseg.build_model(name, backbone=backbone, **NARROW)
        assert list(model.state_dict()) == reference_keys[backbone], name
        assert model.variant.name == name


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(
    ("variant", "sites"),
    [
        ("none", 0),
        ("backbone-chandrop", "blocks"),
        ("spp-uout", 1),
        ("upper-dropblock", 2),
        ("all-chandrop-sched", None),
    ],
)
def test_regularizer_count_by_placement(backbone, variant, sites):
    model = dropseg.build_model(variant, backbone=backbone, **NARROW)
    expected = {"blocks": BLOCKS[backbone], None: BLOCKS[backbone] + 2}.get(sites, sites)
    assert len(list(iter_regularizers(model))) == expected


def test_regularizers_sit_where_placed():
    model = dropseg.build_model("all-dropblock", backbone="resnet18", **NARROW)
    assert isinstance(model.aspp.drop, DropBlock)
    assert isinstance(model.decoder.drop, DropBlock)
    assert all(isinstance(block.drop, DropBlock) for block in model.backbone.blocks())

    spp_only = dropseg.build_model("spp-chandrop", backbone="efficientnet_lite0", **NARROW)
    assert isinstance(spp_only.aspp.drop, ChannelDropout)
    assert not isinstance(spp_only.decoder.drop, Regularizer)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("size", [(513, 513), (321, 321), (97, 130)])
def test_output_shape(backbone, size):
    model = dropseg.build_model("all-uout", backbone=backbone, **NARROW).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, *size))
    assert logits.shape == (2, 21, *size)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_output_stride_sets_feature_size(output_stride):
    model = dropseg.build_model("none", backbone="resnet18", output_stride=output_stride, **NARROW).eval()
    with torch.no_grad():
        low_level, high_level = model.backbone(torch.randn(1, 3, 128, 128))
    assert low_level.shape[-1] == 32
    assert high_level.shape[-1] == 128 // output_stride


@pytest.mark.parametrize("backbone", BACKBONES)
def test_batch_of_one_trains(backbone):
    torch.manual_seed(0)
    model = dropseg.build_model("all-chandrop", backbone=backbone, **NARROW).train()
    pooling_bn = model.aspp.branches[-1].bn
    running_mean = pooling_bn.running_mean.clone()

    logits = model(torch.randn(1, 3, 129, 129))
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, 21, (1, 129, 129)))
    loss.backward()

    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    # With one sample there are no batch statistics, so the running estimate stays as it was.
    assert torch.equal(pooling_bn.running_mean, running_mean)


def test_batch_of_two_updates_pooling_statistics():
    model = dropseg.build_model("none", backbone="resnet18", **NARROW).train()
    pooling_bn = model.aspp.branches[-1].bn
    before = pooling_bn.running_mean.clone()
    model(torch.randn(2, 3, 65, 65))
    assert not torch.equal(pooling_bn.running_mean, before)


def test_imagenet_efficientnet_loads_offline():
    model = dropseg.build_model(
        "all-chandrop-sched", backbone="efficientnet_lite0", pretrained_backbone="imagenet"
    )
    reference = efficientnet_lite0_imagenet_state_dict()
    body = model.backbone.body.state_dict()
    torch.testing.assert_close(body["conv_stem.weight"], reference["conv_stem.weight"])
    torch.testing.assert_close(body["blocks.5.3.conv_pwl.weight"], reference["blocks.5.3.conv_pwl.weight"])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_resnet_weights_from_local_file(tmp_path, suffix):
    torch.manual_seed(3)
    source = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(source, path)
    else:
        save_file(source, path)

    model = dropseg.build_model("backbone-uout", backbone="resnet18", pretrained_backbone=path, **NARROW)
    loaded = model.backbone.state_dict()
    assert set(loaded) == {key for key in source if not key.startswith("fc.")}
    for key, value in loaded.items():
        assert torch.equal(value, source[key]), key


def test_weights_file_with_missing_key_rejected(tmp_path):
    source = torchvision.models.resnet18(weights=None).state_dict()
    del source["layer3.0.conv1.weight"]
    path = tmp_path / "partial.pth"
    torch.save(source, path)
    with pytest.raises(ValueError, match=r"layer3\.0\.conv1\.weight"):
        dropseg.build_model("none", backbone="resnet18", pretrained_backbone=path)


def test_weights_file_for_other_backbone_rejected(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="do not fit backbone resnet18"):
        dropseg.build_model("none", backbone="resnet18", pretrained_backbone=path)


def test_missing_weights_file_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        dropseg.build_model("none", backbone="resnet18", pretrained_backbone=tmp_path / "absent.pth")


def test_resnet_imagenet_offline_names_local_file_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    with pytest.raises(RuntimeError, match="pretrained_backbone='/path/to/resnet50-"):
        dropseg.build_model("none", backbone="resnet50", pretrained_backbone="imagenet")


def test_resnet_imagenet_reads_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    cached = tmp_path / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.manual_seed(5)
    source = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(source, cached)

    # torch.hub checks the hash only when it downloads, so a cached stand-in loads as it is.
    model = dropseg.build_model("none", backbone="resnet18", pretrained_backbone="imagenet", **NARROW)
    assert torch.equal(model.backbone.conv1.weight, source["conv1.weight"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"backbone": "vgg16"}, ValueError, "valid names: resnet18"),
        ({"output_stride": 32}, ValueError, "output_stride must be 8 or 16"),
        ({"aspp_width": 64}, TypeError, "aspp_channels"),
        ({"aspp_channels": 0}, ValueError, "aspp_channels must be a positive integer"),
        ({"variant": "resnet-spatialdrop"}, ValueError, "valid names"),
    ],
)
def test_invalid_arguments_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        dropseg.build_model(**{"variant": "none", "backbone": "resnet18", **kwargs})
