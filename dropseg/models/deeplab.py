"""DeepLabV3+ (Chen et al. 2018, "Encoder-Decoder with Atrous Separable Convolution for Semantic
Image Segmentation", https://arxiv.org/abs/1802.02611) with regularizer slots.

The ASPP output (after its projection) and the decoder output (before the classifier) each have
a ``drop`` slot: ``nn.Identity`` unless a variant places a regularizer there. Slots hold no
parameters, so every variant has the same state_dict keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ASPP", "DeepLabV3Plus", "Decoder", "ImagePooling"]


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1
) -> nn.Sequential:
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ImagePooling(nn.Module):
    """The image-level branch of ASPP: global average pooling, 1x1 conv, BatchNorm, ReLU,
    broadcast back to the input size.

    BatchNorm cannot compute batch statistics from one value per channel, which is what a
    pooled batch of one gives, and PyTorch raises on it in training mode. In that case this
    branch normalizes with the running statistics instead, as in eval mode, and leaves them
    unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.conv(F.adaptive_avg_pool2d(x, 1))
        if self.training and pooled.shape[0] == 1:
            bn = self.bn
            pooled = F.batch_norm(
                pooled, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps
            )
        else:
            pooled = self.bn(pooled)
        return self.relu(pooled).expand(-1, -1, x.shape[-2], x.shape[-1])


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, one 3x3 branch per atrous rate and an
    image-pooling branch, concatenated and projected by a 1x1 conv."""

    def __init__(
        self, in_channels: int, out_channels: int = 256, rates: tuple[int, ...] = (6, 12, 18)
    ) -> None:
        super().__init__()
        branches = [_conv_bn_relu(in_channels, out_channels)]
        branches += [_conv_bn_relu(in_channels, out_channels, 3, dilation=rate) for rate in rates]
        branches.append(ImagePooling(in_channels, out_channels))
        self.branches = nn.ModuleList(branches)
        self.project = _conv_bn_relu(len(branches) * out_channels, out_channels)
        self.drop: nn.Module = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        features = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.project(features))


class Decoder(nn.Module):
    """The DeepLabV3+ decoder: reduce the low-level features with a 1x1 conv, upsample the ASPP
    output to their size, concatenate, refine with two 3x3 convs and classify with a 1x1 conv."""

    def __init__(
        self,
        aspp_channels: int,
        low_level_in_channels: int,
        num_classes: int,
        low_level_channels: int = 48,
        channels: int = 256,
    ) -> None:
        super().__init__()
        self.reduce = _conv_bn_relu(low_level_in_channels, low_level_channels)
        self.fuse = nn.Sequential(
            _conv_bn_relu(aspp_channels + low_level_channels, channels, 3),
            _conv_bn_relu(channels, channels, 3),
        )
        self.drop: nn.Module = nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: Tensor, low_level: Tensor) -> Tensor:
        low_level = self.reduce(low_level)
        x = F.interpolate(x, size=low_level.shape[-2:], mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([x, low_level], dim=1))
        return self.classifier(self.drop(x))


class DeepLabV3Plus(nn.Module):
    """Encoder, ASPP and decoder; returns logits of shape (N, num_classes, H, W) for an
    (N, 3, H, W) input of any size."""

    def __init__(self, backbone: nn.Module, aspp: ASPP, decoder: Decoder) -> None:
        super().__init__()
        self.backbone = backbone
        self.aspp = aspp
        self.decoder = decoder

    def forward(self, x: Tensor) -> Tensor:
        low_level, high_level = self.backbone(x)
        logits = self.decoder(self.aspp(high_level), low_level)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
