"""Encoders for DeepLabV3+: dilated torchvision ResNets and timm's EfficientNet-Lite0.

Every encoder returns ``(low_level, high_level)``: stride-4 features for the decoder and
features at the output stride (16 or 8) for ASPP. Each residual block has a regularizer slot
(``nn.Identity`` unless a variant fills it) that has no parameters, so attaching a
regularizer never changes the state_dict keys and ImageNet weights load strictly into every
variant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import timm
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, ResNet, conv3x3

_logger = logging.getLogger(__name__)

__all__ = ["BACKBONES", "EfficientNetLite0Backbone", "ResNetBackbone", "build_backbone"]

RegularizerFactory = Callable[[], nn.Module]


class RegularizedBasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` with dilation support and a regularizer slot.

    torchvision's own ``BasicBlock`` rejects dilation, which ResNet-18/34 need for output
    stride 16. The attribute names match torchvision's, so its weights load unchanged. The
    regularizer sits on the activation of the first 3x3 convolution, before the block's last
    convolution, the point that matches the bottleneck placement.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride, dilation=dilation)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.drop: nn.Module = nn.Identity()
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)

        out = self.drop(self.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class RegularizedBottleneck(Bottleneck):
    """torchvision's ``Bottleneck`` with a regularizer slot after the 3x3 convolution's
    activation and before the last 1x1 convolution."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.drop: nn.Module = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)

        out = self.relu(self.bn1(self.conv1(x)))
        out = self.drop(self.relu(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_RESNET_LAYERS: dict[str, tuple[type[nn.Module], list[int]]] = {
    "resnet18": (RegularizedBasicBlock, [2, 2, 2, 2]),
    "resnet34": (RegularizedBasicBlock, [3, 4, 6, 3]),
    "resnet50": (RegularizedBottleneck, [3, 4, 6, 3]),
    "resnet101": (RegularizedBottleneck, [3, 4, 23, 3]),
}


def _dilation_flags(output_stride: int) -> list[bool]:
    if output_stride == 16:
        return [False, False, True]
    if output_stride == 8:
        return [False, True, True]
    raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its classifier, with the last stage (output stride 16) or
    the last two stages (output stride 8) dilated instead of strided.

    The module names equal torchvision's (``conv1``, ``layer1`` ...), so a torchvision
    ImageNet state_dict without its ``fc`` keys loads with strict matching.
    """

    def __init__(self, name: str, output_stride: int = 16) -> None:
        super().__init__()
        block, layers = _RESNET_LAYERS[name]
        # torchvision's ResNet only needs the class to expose `expansion` and its constructor.
        resnet = ResNet(block, layers, replace_stride_with_dilation=_dilation_flags(output_stride))  # type: ignore[arg-type]
        for child in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(child, getattr(resnet, child))
        self.low_level_channels = 64 * block.expansion  # type: ignore[attr-defined]
        self.out_channels = 512 * block.expansion  # type: ignore[attr-defined]

    def blocks(self) -> list[nn.Module]:
        return [block for layer in (self.layer1, self.layer2, self.layer3, self.layer4) for block in layer]

    def attach_regularizers(self, factory: RegularizerFactory) -> None:
        for block in self.blocks():
            block.drop = factory()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        low_level = self.layer1(x)
        x = self.layer4(self.layer3(self.layer2(low_level)))
        return low_level, x


class EfficientNetLite0Backbone(nn.Module):
    """timm's ``tf_efficientnet_lite0`` (TensorFlow "same" padding, BatchNorm eps 1e-3, ReLU6,
    no squeeze-excitation) as an encoder with stride-4 low-level features.

    Lite blocks have no squeeze-excitation, and timm keeps an empty ``se`` slot in each block
    right after the depthwise convolution's activation and before the projecting 1x1
    convolution. That is the point that matches the ResNet placement, so the regularizer
    goes there.
    """

    timm_name = "tf_efficientnet_lite0"

    def __init__(self, output_stride: int = 16) -> None:
        super().__init__()
        _dilation_flags(output_stride)
        self.body = timm.create_model(
            self.timm_name,
            pretrained=False,
            features_only=True,
            out_indices=(1, 4),
            output_stride=output_stride,
        )
        self.low_level_channels, self.out_channels = self.body.feature_info.channels()

    def blocks(self) -> list[nn.Module]:
        return [block for stage in self.body.blocks for block in stage]

    def attach_regularizers(self, factory: RegularizerFactory) -> None:
        for block in self.blocks():
            block.se = factory()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        low_level, high_level = self.body(x)
        return low_level, high_level


BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101", "efficientnet_lite0")


def build_backbone(name: str, output_stride: int = 16) -> ResNetBackbone | EfficientNetLite0Backbone:
    """Create the encoder called ``name`` (one of :data:`BACKBONES`) with random weights."""
    if name in _RESNET_LAYERS:
        return ResNetBackbone(name, output_stride)
    if name == "efficientnet_lite0":
        return EfficientNetLite0Backbone(output_stride)
    raise ValueError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}")
