"""Variant names of the experiment matrix and the drop probability schedule.

A variant is ``none`` or ``<placement>-<regularizer>``, optionally with the suffix ``-sched``
for a drop probability that ramps up linearly (ScheduledDropPath, Zoph et al. 2018, "Learning
Transferable Architectures for Scalable Image Recognition", https://arxiv.org/abs/1707.07012).
The matrix follows Spilsbury and Camps 2019, "Don't ignore Dropout in Fully Convolutional
Networks", https://arxiv.org/abs/1908.09162.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PAPER_REGULARIZERS",
    "PLACEMENTS",
    "REGULARIZER_NAMES",
    "Variant",
    "paper_matrix",
    "parse_variant",
    "scheduled_drop_prob",
]

# Each placement maps to the parts of the network that get a regularizer.
PLACEMENTS: dict[str, frozenset[str]] = {
    "backbone": frozenset({"backbone"}),
    "spp": frozenset({"spp"}),
    "decoder": frozenset({"decoder"}),
    "upper": frozenset({"spp", "decoder"}),
    "all": frozenset({"backbone", "spp", "decoder"}),
}
PLACEMENT_ALIASES = {"resnet": "backbone"}

PAPER_REGULARIZERS = ("chandrop", "dropblock", "uout")
REGULARIZER_NAMES = ("dropout", *PAPER_REGULARIZERS)
REGULARIZER_ALIASES = {"vanilla": "dropout"}

SCHEDULE_SUFFIX = "-sched"


@dataclass(frozen=True)
class Variant:
    """One cell of the experiment matrix.

    ``placement`` and ``regularizer`` are ``None`` for the baseline ``none``.
    """

    placement: str | None
    regularizer: str | None
    scheduled: bool = False

    @property
    def name(self) -> str:
        if self.placement is None:
            return "none"
        name = f"{self.placement}-{self.regularizer}"
        return name + SCHEDULE_SUFFIX if self.scheduled else name

    @property
    def sites(self) -> frozenset[str]:
        """The parts of the network that carry a regularizer: backbone, spp, decoder."""
        if self.placement is None:
            return frozenset()
        return PLACEMENTS[self.placement]

    def __str__(self) -> str:
        return self.name


def _valid_names_message() -> str:
    placements = ",".join(PLACEMENTS)
    regularizers = ",".join(REGULARIZER_NAMES)
    return (
        f"valid names: none, or {{{placements}}}-{{{regularizers}}} with an optional "
        f"'{SCHEDULE_SUFFIX}' suffix ('resnet-' is an alias of 'backbone-', 'vanilla' of 'dropout')"
    )


def parse_variant(name: str) -> Variant:
    """Parse a variant name such as ``all-chandrop-sched`` or ``resnet-uout``.

    Raises:
        ValueError: if ``name`` is not a valid variant; the message lists the valid names.
    """
    text = name.strip().lower()
    if text == "none":
        return Variant(None, None)

    scheduled = text.endswith(SCHEDULE_SUFFIX)
    if scheduled:
        text = text[: -len(SCHEDULE_SUFFIX)]

    placement, _, regularizer = text.partition("-")
    placement = PLACEMENT_ALIASES.get(placement, placement)
    regularizer = REGULARIZER_ALIASES.get(regularizer, regularizer)
    if placement not in PLACEMENTS or regularizer not in REGULARIZER_NAMES:
        raise ValueError(f"unknown variant {name!r}; {_valid_names_message()}")
    return Variant(placement, regularizer, scheduled)


def paper_matrix() -> list[str]:
    """Return the 31 variant names of the study in a stable order.

    ``none`` first, then the 15 constant-probability variants grouped by regularizer
    (channel dropout, DropBlock, UOut) and placement, then their 15 scheduled twins.
    """
    constant = [
        f"{placement}-{regularizer}" for regularizer in PAPER_REGULARIZERS for placement in PLACEMENTS
    ]
    return ["none", *constant, *(name + SCHEDULE_SUFFIX for name in constant)]


def scheduled_drop_prob(step: float, ramp_steps: float, drop_prob: float) -> float:
    """Return the drop probability after ``step`` steps of a linear ramp.

    The value grows linearly from 0 at step 0 to ``drop_prob`` at ``ramp_steps`` and stays
    there. Steps may be epochs or iterations, or fractional epochs, as long as both arguments
    use the same unit.
    """
    if ramp_steps < 0 or step < 0:
        raise ValueError(
            f"step and ramp_steps must be non-negative, got step={step}, ramp_steps={ramp_steps}"
        )
    if ramp_steps == 0:
        return drop_prob
    return drop_prob * min(1.0, step / ramp_steps)
