"""Statistical tests of the regularizers, with fixed seeds on large tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dropseg.regularizers import (
    ChannelDropout,
    DropBlock,
    Dropout,
    UOut,
    build_regularizer,
    set_drop_prob,
)

ALL_KINDS = [Dropout, ChannelDropout, DropBlock, UOut]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


def positive_input(*shape: int) -> torch.Tensor:
    return torch.rand(*shape) + 0.5


def test_dropout_zeroes_elements_at_rate_p():
    x = positive_input(16, 64, 32, 32)
    out = Dropout(0.3).train()(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.005
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / 0.7)


def test_channel_dropout_zeroes_whole_channels():
    x = positive_input(64, 256, 8, 8)
    out = ChannelDropout(0.3).train()(x)
    zero_per_channel = (out == 0).float().mean(dim=(2, 3))
    assert set(zero_per_channel.unique().tolist()) <= {0.0, 1.0}
    # 16,384 channel draws: the standard error of the rate is 0.0036.
    assert abs(zero_per_channel.mean().item() - 0.3) < 0.015


def test_channel_dropout_preserves_mean():
    x = positive_input(64, 256, 8, 8)
    out = ChannelDropout(0.3).train()(x)
    assert abs(out.mean().item() / x.mean().item() - 1.0) < 0.01
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / 0.7)


def expected_dropblock_fraction(size: int, block_size: int, drop_prob: float) -> float:
    """Exact expected share of dropped units of torchvision's DropBlock on a square map: a unit
    is kept when none of the seed positions whose block covers it fires."""
    valid = size - block_size + 1
    gamma = drop_prob * size * size / (block_size**2 * valid * valid)
    seeds = torch.ones(1, 1, valid, valid)
    seeds = F.pad(seeds, [block_size // 2] * 4)
    coverage = F.conv2d(seeds, torch.ones(1, 1, block_size, block_size), padding=block_size // 2)
    return 1.0 - ((1.0 - gamma) ** coverage).mean().item()


def test_dropblock_dropped_fraction_close_to_p():
    x = positive_input(64, 64, 33, 33)
    out = DropBlock(0.2, block_size=7).train()(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - expected_dropblock_fraction(33, 7, 0.2)) < 0.005
    assert abs(dropped - 0.2) < 0.05


def test_dropblock_drops_contiguous_squares():
    x = positive_input(8, 32, 33, 33)
    out = DropBlock(0.2, block_size=7).train()(x)
    dropped = (out == 0).float()

    # A set made of whole 7x7 squares equals its morphological opening with a 7x7 square.
    eroded = -F.max_pool2d(-dropped, 7, stride=1, padding=3)
    eroded = eroded * (
        F.avg_pool2d(torch.ones_like(dropped), 7, stride=1, padding=3, count_include_pad=True) == 1
    )
    opened = F.max_pool2d(eroded, 7, stride=1, padding=3)
    assert dropped.sum() > 0
    assert torch.equal(opened, dropped)


def test_dropblock_preserves_mean():
    x = positive_input(64, 64, 33, 33)
    out = DropBlock(0.2, block_size=7).train()(x)
    assert abs(out.mean().item() / x.mean().item() - 1.0) < 0.01


@pytest.mark.parametrize(("size", "fitting"), [(4, 3), (5, 5), (1, 1)])
def test_dropblock_shrinks_block_on_small_maps(size, fitting):
    x = positive_input(256, 16, size, size)
    out = DropBlock(0.3, block_size=7).train()(x)
    assert out.shape == x.shape
    if size == 1:
        assert 0.2 < (out == 0).float().mean().item() < 0.4
    else:
        dropped = (out == 0).float()
        eroded = -F.max_pool2d(-dropped, fitting, stride=1)
        assert eroded.sum() > 0


def test_uout_never_zeroes_and_factor_is_per_channel():
    # Values kept away from zero so that out / x is well conditioned.
    x = positive_input(32, 128, 16, 16) * torch.randn(32, 128, 16, 16).sign()
    drop_prob = 0.5
    out = UOut(drop_prob).train()(x)
    assert not bool(((out == 0) & (x != 0)).any())

    factor = out / x
    per_channel = factor.flatten(2)
    torch.testing.assert_close(per_channel.amin(-1), per_channel.amax(-1), rtol=1e-4, atol=1e-4)
    assert factor.min().item() >= 1 - drop_prob - 1e-5
    assert factor.max().item() <= 1 + drop_prob + 1e-5
    # Per-sample draws: two samples of one channel get different factors.
    assert not torch.allclose(per_channel[0, :, 0], per_channel[1, :, 0])


def test_uout_preserves_mean():
    x = torch.randn(64, 128, 16, 16) + 1.0
    out = UOut(0.5).train()(x)
    assert abs(out.mean().item() - x.mean().item()) < 0.01


def test_uout_variance_ratio():
    x = torch.randn(64, 256, 16, 16)
    drop_prob = 0.5
    out = UOut(drop_prob).train()(x)
    ratio = out.var().item() / x.var().item()
    assert abs(ratio - (1 + drop_prob**2 / 3)) < 0.01
    # Dropout shifts the variance by 1 / (1 - p) instead, the contrast UOut is built for.
    dropout_ratio = Dropout(drop_prob).train()(x).var().item() / x.var().item()
    assert abs(dropout_ratio - 1 / (1 - drop_prob)) < 0.02


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_identity_in_eval_mode(kind):
    x = torch.randn(4, 8, 17, 17)
    module = kind(0.5).eval()
    assert module(x) is x


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_identity_at_zero_drop_prob(kind):
    x = torch.randn(4, 8, 17, 17)
    assert kind(0.0).train()(x) is x


@pytest.mark.parametrize("kind", [Dropout, ChannelDropout, DropBlock])
def test_drop_prob_change_applies_next_call(kind):
    x = positive_input(64, 64, 33, 33)
    module = kind(0.1).train()
    low = (module(x) == 0).float().mean().item()
    module.drop_prob = 0.4
    high = (module(x) == 0).float().mean().item()
    assert high > low + 0.15


def test_uout_drop_prob_change_applies_next_call():
    x = torch.ones(64, 256, 1, 1)
    module = UOut(0.1).train()
    assert (module(x) - 1).abs().max().item() <= 0.1 + 1e-6
    module.drop_prob = 0.4
    assert (module(x) - 1).abs().max().item() > 0.3


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, math.nan])
def test_invalid_drop_prob_rejected(bad):
    with pytest.raises(ValueError, match="drop_prob"):
        ChannelDropout(bad)
    module = UOut(0.2)
    with pytest.raises(ValueError, match="drop_prob"):
        module.drop_prob = bad


def test_dropblock_rejects_even_block_size():
    with pytest.raises(ValueError, match="block_size"):
        DropBlock(0.2, block_size=6)


def test_build_regularizer_unknown_name_lists_valid():
    with pytest.raises(ValueError, match="chandrop"):
        build_regularizer("spatial", 0.2)


def test_set_drop_prob_reaches_every_regularizer():
    model = torch.nn.Sequential(ChannelDropout(0.2), torch.nn.Sequential(UOut(0.2), DropBlock(0.2)))
    assert set_drop_prob(model, 0.05) == 3
    assert [m.drop_prob for m in model.modules() if hasattr(m, "drop_prob")] == [0.05, 0.05, 0.05]
