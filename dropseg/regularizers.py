"""Dropout-style regularizers for convolutional feature maps.

Four modules share one interface: a ``drop_prob`` attribute that a schedule may change between
steps, and the identity in eval mode.

* :class:`Dropout`: element-wise dropout (Srivastava et al. 2014).
* :class:`ChannelDropout`: drops whole feature maps, also called SpatialDropout
  (Tompson et al. 2015, "Efficient Object Localization Using Convolutional Networks",
  https://arxiv.org/abs/1411.4280).
* :class:`DropBlock`: drops contiguous square blocks (Ghiasi et al. 2018, "DropBlock: A
  regularization method for convolutional networks", https://arxiv.org/abs/1810.12890).
* :class:`UOut`: multiplicative uniform noise (Li et al. 2018, "Understanding the Disharmony
  between Dropout and Batch Normalization by Variance Shift", https://arxiv.org/abs/1801.05134).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import drop_block2d

_logger = logging.getLogger(__name__)

__all__ = [
    "REGULARIZERS",
    "ChannelDropout",
    "DropBlock",
    "Dropout",
    "Regularizer",
    "UOut",
    "build_regularizer",
    "iter_regularizers",
    "set_drop_prob",
]


def _check_drop_prob(drop_prob: float) -> float:
    drop_prob = float(drop_prob)
    if not 0.0 <= drop_prob < 1.0:
        raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
    return drop_prob


class Regularizer(nn.Module):
    """Base class that stores ``drop_prob`` and returns the input unchanged in eval mode or at 0.

    Args:
        drop_prob (float): probability in [0, 1) that a unit is dropped (or, for
            :class:`UOut`, the half-width of the noise interval).
    """

    def __init__(self, drop_prob: float = 0.2) -> None:
        super().__init__()
        self._drop_prob = _check_drop_prob(drop_prob)

    @property
    def drop_prob(self) -> float:
        return self._drop_prob

    @drop_prob.setter
    def drop_prob(self, value: float) -> None:
        self._drop_prob = _check_drop_prob(value)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self._drop_prob == 0.0:
            return x
        return self.regularize(x)

    def regularize(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"drop_prob={self._drop_prob}"


class Dropout(Regularizer):
    """Zero each activation independently with probability ``drop_prob``; scale survivors by
    ``1 / (1 - drop_prob)``."""

    def regularize(self, x: Tensor) -> Tensor:
        return F.dropout(x, self._drop_prob, training=True)


class ChannelDropout(Regularizer):
    """Zero whole feature maps: one Bernoulli draw per (sample, channel) of an (N, C, H, W)
    input; scale survivors by ``1 / (1 - drop_prob)``."""

    def regularize(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self._drop_prob, training=True)


class DropBlock(Regularizer):
    """Zero contiguous ``block_size`` x ``block_size`` squares, independently per channel.

    Block seeds are drawn at the rate that makes the expected share of seeded units equal to
    ``drop_prob`` (the gamma of the paper), and the output is scaled by the ratio of all units
    to kept units. Overlapping blocks make the dropped share a little lower than
    ``drop_prob``: about 0.18 for ``drop_prob=0.2`` and ``block_size=7`` on a 33 x 33 map.
    The work is done by :func:`torchvision.ops.drop_block2d`.

    On a feature map smaller than a block, the block shrinks to the largest odd size that fits
    the shorter side. A 4 x 4 map gets 3 x 3 blocks, and a 1 x 1 map loses whole channels.

    Args:
        drop_prob (float): target share of dropped units, in [0, 1).
        block_size (int): side of the square block, an odd number (7 in the DropBlock paper's
            ResNet-50 experiments).
    """

    def __init__(self, drop_prob: float = 0.2, block_size: int = 7) -> None:
        super().__init__(drop_prob)
        if block_size < 1 or block_size % 2 == 0:
            raise ValueError(f"block_size must be a positive odd number, got {block_size}")
        self.block_size = block_size

    def regularize(self, x: Tensor) -> Tensor:
        fitting = min(self.block_size, x.shape[-2], x.shape[-1])
        if fitting % 2 == 0:
            fitting -= 1
        return drop_block2d(x, self._drop_prob, fitting, training=True)

    def extra_repr(self) -> str:
        return f"drop_prob={self._drop_prob}, block_size={self.block_size}"


class UOut(Regularizer):
    """Multiply each feature map by ``1 + r`` with ``r ~ U[-drop_prob, drop_prob]``.

    UOut zeroes nothing. With zero-mean inputs the variance grows by the factor
    ``1 + drop_prob**2 / 3`` in training, far less than the ``1 / (1 - drop_prob)`` of
    dropout, which is the point of the method. The UOut paper draws one ``r`` per channel;
    this implementation draws one per (sample, channel), as :class:`ChannelDropout` draws its
    masks.
    """

    def regularize(self, x: Tensor) -> Tensor:
        shape = (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2)
        noise = torch.empty(shape, dtype=x.dtype, device=x.device)
        noise.uniform_(-self._drop_prob, self._drop_prob)
        return x + x * noise


REGULARIZERS: dict[str, type[Regularizer]] = {
    "dropout": Dropout,
    "chandrop": ChannelDropout,
    "dropblock": DropBlock,
    "uout": UOut,
}


def build_regularizer(name: str, drop_prob: float, block_size: int = 7) -> Regularizer:
    """Create the regularizer called ``name`` (a key of :data:`REGULARIZERS`)."""
    if name not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; valid names: {', '.join(REGULARIZERS)}")
    if name == "dropblock":
        return DropBlock(drop_prob, block_size=block_size)
    return REGULARIZERS[name](drop_prob)


def iter_regularizers(model: nn.Module) -> Iterator[Regularizer]:
    """Yield every :class:`Regularizer` inside ``model``."""
    for module in model.modules():
        if isinstance(module, Regularizer):
            yield module


def set_drop_prob(model: nn.Module, drop_prob: float) -> int:
    """Set ``drop_prob`` on every regularizer in ``model`` and return how many were changed."""
    count = 0
    for module in iter_regularizers(model):
        module.drop_prob = drop_prob
        count += 1
    return count
