"""Variant names, the experiment matrix and the drop probability ramp."""

from __future__ import annotations

import pytest

from dropseg.variants import Variant, paper_matrix, parse_variant, scheduled_drop_prob


def test_matrix_has_31_unique_names():
    names = paper_matrix()
    assert len(names) == 31
    assert len(set(names)) == 31
    assert names[0] == "none"
    assert sum(name.endswith("-sched") for name in names) == 15
    assert names[1:6] == [
        "backbone-chandrop",
        "spp-chandrop",
        "decoder-chandrop",
        "upper-chandrop",
        "all-chandrop",
    ]


def test_matrix_names_parse_back():
    for name in paper_matrix():
        assert parse_variant(name).name == name


def test_parse_variant_fields():
    assert parse_variant("all-chandrop-sched") == Variant("all", "chandrop", scheduled=True)
    assert parse_variant("none") == Variant(None, None)
    assert parse_variant("upper-uout").sites == frozenset({"spp", "decoder"})
    assert parse_variant("all-dropblock").sites == frozenset({"backbone", "spp", "decoder"})


def test_aliases():
    assert parse_variant("resnet-chandrop").name == "backbone-chandrop"
    assert parse_variant("decoder-vanilla").name == "decoder-dropout"
    assert parse_variant(" All-UOut-Sched ").name == "all-uout-sched"


@pytest.mark.parametrize(
    "bad", ["", "none-sched", "aspp-chandrop", "all-spatial", "all", "all-chandrop-sched-sched"]
)
def test_unknown_variant_lists_valid_names(bad):
    with pytest.raises(ValueError, match=r"valid names: none, or \{backbone,spp,decoder,upper,all\}"):
        parse_variant(bad)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (15, 0.1), (29, 0.2 * 29 / 30), (30, 0.2), (49, 0.2)],
)
def test_linear_ramp_by_epoch(step, expected):
    assert scheduled_drop_prob(step, 30, 0.2) == pytest.approx(expected)


def test_linear_ramp_by_iteration():
    # 19 iterations per epoch, ramp over 30 epochs: half way after 285 iterations.
    assert scheduled_drop_prob(285, 30 * 19, 0.2) == pytest.approx(0.1)


def test_ramp_rejects_negative_step():
    with pytest.raises(ValueError, match="non-negative"):
        scheduled_drop_prob(-1, 30, 0.2)
