"""Optimizer, learning rate schedule and drop probability schedule, all stepped per iteration."""

from __future__ import annotations

from torch import nn
from torch.optim import SGD
from torch.optim.lr_scheduler import LambdaLR

from dropseg.regularizers import set_drop_prob
from dropseg.variants import Variant, scheduled_drop_prob

__all__ = ["DropSchedule", "PARAM_GROUPS", "build_optimizer", "build_poly_scheduler", "poly_factor"]

# Names of the optimizer's parameter groups, in order: the pretrained encoder learns at the
# base rate, the randomly initialized ASPP and decoder at ``head_lr_multiplier`` times it.
PARAM_GROUPS = ("backbone", "head")


def build_optimizer(
    model: nn.Module, lr: float, head_lr_multiplier: float, momentum: float, weight_decay: float
) -> SGD:
    """Build SGD with the backbone at ``lr`` and ASPP plus decoder at ``lr * head_lr_multiplier``."""
    head = [*model.aspp.parameters(), *model.decoder.parameters()]
    groups = [
        {"name": "backbone", "params": list(model.backbone.parameters()), "lr": lr},
        {"name": "head", "params": head, "lr": lr * head_lr_multiplier},
    ]
    return SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def poly_factor(iteration: int, total_iterations: int, power: float) -> float:
    """Return the poly decay factor ``(1 - iteration / total_iterations) ** power``, 0 at the end."""
    return max(0.0, 1.0 - iteration / total_iterations) ** power


def build_poly_scheduler(optimizer: SGD, total_iterations: int, power: float) -> LambdaLR:
    """Build the poly schedule; call ``step()`` once after every optimizer step."""
    return LambdaLR(optimizer, lambda iteration: poly_factor(iteration, total_iterations, power))


class DropSchedule:
    """Sets the drop probability of a model's regularizers before every iteration.

    Scheduled (-sched) variants ramp linearly from 0 at iteration 0 to ``drop_prob`` at
    ``ramp_iterations`` and stay there; other variants keep ``drop_prob`` throughout.
    """

    def __init__(self, variant: Variant, drop_prob: float, ramp_iterations: float) -> None:
        self.scheduled = variant.scheduled
        self.has_regularizers = variant.regularizer is not None
        self.drop_prob = drop_prob
        self.ramp_iterations = ramp_iterations

    def value(self, iteration: int) -> float:
        """Return the drop probability of ``iteration`` (0-based); 0 for a variant without regularizers."""
        if not self.has_regularizers:
            return 0.0
        if not self.scheduled:
            return self.drop_prob
        return scheduled_drop_prob(iteration, self.ramp_iterations, self.drop_prob)

    def apply(self, model: nn.Module, iteration: int) -> float:
        """Set the probability of ``iteration`` on every regularizer of ``model`` and return it."""
        value = self.value(iteration)
        set_drop_prob(model, value)
        return value

    def state_dict(self) -> dict[str, float | bool]:
        return {
            "scheduled": self.scheduled,
            "drop_prob": self.drop_prob,
            "ramp_iterations": self.ramp_iterations,
        }
