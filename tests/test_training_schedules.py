"""Learning rate and drop probability schedules, parameter groups, shards and presets."""

from __future__ import annotations

import pytest

from dropseg import build_model, parse_variant
from dropseg.regularizers import iter_regularizers
from training.config import ConfigError, resolve_study
from training.optim import DropSchedule, build_optimizer, build_poly_scheduler, poly_factor
from training.presets import PRESETS
from training.run_setup import shard_variants


def _small_model(variant: str = "all-chandrop"):
    return build_model(
        variant, backbone="resnet18", aspp_channels=8, decoder_channels=8, low_level_channels=8
    )


@pytest.mark.parametrize(
    ("iteration", "expected"),
    [(0, 1.0), (50, 0.5**0.9), (75, 0.25**0.9), (100, 0.0)],
)
def test_poly_factor_values(iteration, expected):
    assert poly_factor(iteration, 100, 0.9) == pytest.approx(expected)


def test_poly_scheduler_steps_per_iteration():
    model = _small_model()
    optimizer = build_optimizer(model, lr=7e-3, head_lr_multiplier=10.0, momentum=0.9, weight_decay=5e-4)
    scheduler = build_poly_scheduler(optimizer, total_iterations=10, power=0.9)
    for _ in range(5):
        optimizer.step()
        scheduler.step()

    backbone, head = optimizer.param_groups
    assert backbone["lr"] == pytest.approx(7e-3 * 0.5**0.9)
    assert head["lr"] == pytest.approx(7e-2 * 0.5**0.9)


def test_optimizer_groups_lr_ratio():
    model = _small_model()
    optimizer = build_optimizer(model, lr=7e-3, head_lr_multiplier=10.0, momentum=0.9, weight_decay=5e-4)
    backbone, head = optimizer.param_groups

    assert backbone["name"] == "backbone"
    assert head["name"] == "head"
    assert head["lr"] / backbone["lr"] == pytest.approx(10.0)
    assert backbone["momentum"] == 0.9
    assert backbone["weight_decay"] == 5e-4
    grouped = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert grouped == {id(p) for p in model.parameters()}
    assert {id(p) for p in model.backbone.parameters()} == {id(p) for p in backbone["params"]}


def test_drop_schedule_sched_ramp():
    schedule = DropSchedule(parse_variant("all-chandrop-sched"), drop_prob=0.2, ramp_iterations=30 * 18)

    assert schedule.value(0) == 0.0
    assert schedule.value(15 * 18) == pytest.approx(0.1)
    assert schedule.value(30 * 18) == pytest.approx(0.2)
    assert schedule.value(49 * 18) == pytest.approx(0.2)


def test_drop_schedule_constant_and_none():
    constant = DropSchedule(parse_variant("spp-uout"), drop_prob=0.2, ramp_iterations=100)
    baseline = DropSchedule(parse_variant("none"), drop_prob=0.2, ramp_iterations=100)

    assert constant.value(0) == 0.2
    assert constant.value(1000) == 0.2
    assert baseline.value(50) == 0.0


def test_drop_schedule_apply_sets_modules():
    model = _small_model("upper-dropblock-sched")
    schedule = DropSchedule(model.variant, drop_prob=0.2, ramp_iterations=10)

    value = schedule.apply(model, 5)

    assert value == pytest.approx(0.1)
    probabilities = [module.drop_prob for module in iter_regularizers(model)]
    assert len(probabilities) == 2
    assert probabilities == pytest.approx([0.1, 0.1])


def test_shard_round_robin_covers_all():
    variants = [f"v{i}" for i in range(31)]
    shards = [shard_variants(variants, index, 4) for index in range(4)]

    assert shards[0][:3] == ["v0", "v4", "v8"]
    assert shards[1][:2] == ["v1", "v5"]
    assert sorted(sum(shards, []), key=lambda name: int(name[1:])) == variants
    assert [len(shard) for shard in shards] == [8, 8, 8, 7]


def test_shard_out_of_range():
    with pytest.raises(ConfigError, match="invalid shard 4/4"):
        shard_variants(["none"], 4, 4)


def test_presets_ramp_is_sixty_percent():
    paper = resolve_study("paper", {})
    cpu = resolve_study("cpu", {"epochs": 20})

    assert paper.ramp_epochs == pytest.approx(30)
    assert cpu.ramp_epochs == pytest.approx(12)
    assert paper.lr == 7e-3
    assert paper.lr * paper.head_lr_multiplier == pytest.approx(7e-2)
    assert (paper.crop_size, paper.batch_size, paper.epochs, paper.backbone) == (513, 8, 50, "resnet101")
    assert (paper.train_base_size, paper.scale_range) == (None, (0.5, 2.0))


def test_presets_share_every_setting():
    keys = {name: set(settings) for name, settings in PRESETS.items()}

    assert keys["cpu"] == keys["paper"]
    assert keys["smoke"] == keys["paper"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"crop_size": 16}, "crop size 16"),
        ({"train_fraction": 1.5}, "train fraction 1.5"),
        ({"train_fraction": 0.0}, "train fraction 0.0"),
        ({"drop_prob": 1.0}, "drop probability 1.0"),
        ({"backbone": "vgg16"}, "backbone 'vgg16'"),
        ({"epochs": 0}, "epochs 0"),
        ({"train_base_size": 20}, "train base size 20"),
        ({"scale_range": (1.5, 0.75)}, "scale range 1.5..0.75"),
        ({"scale_range": (0.0, 2.0)}, "scale range 0.0..2.0"),
    ],
)
def test_resolve_study_rejects(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_study("smoke", override)


def test_resolve_study_override_wins():
    study = resolve_study("smoke", {"crop_size": 97, "epochs": None})

    assert study.crop_size == 97
    assert study.epochs == PRESETS["smoke"]["epochs"]
    assert study.ramp_epochs == pytest.approx(0.6 * study.epochs)
