"""The class-balanced training subset: a fraction of the images of each class.

Counting rule: an image counts once toward every object class its label shows, so a photo of
a person on a horse counts for both ``person`` and ``horse``. Background does not count.

Selection: class c needs ``quota_c = max(1, round(fraction * n_c))`` images, where ``n_c`` is
the number of images that show c. The ids are shuffled once with ``seed``. Classes are then
filled rarest first, each by taking the next shuffled images that show it until the subset
contains ``quota_c`` images of c. Images picked for earlier classes count too. Every class gets
at least its quota and a class may get more through images picked for other classes, so the
class balance of the split is kept up to rounding and co-occurrence.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

__all__ = ["class_balanced_subset", "class_counts"]


def class_counts(presence: Mapping[str, AbstractSet[int]], ids=None) -> dict[int, int]:
    """Return the number of images (of ``ids``, or all) that show each class."""
    counts: dict[int, int] = {}
    for image_id in presence if ids is None else ids:
        for cls in presence[image_id]:
            counts[cls] = counts.get(cls, 0) + 1
    return dict(sorted(counts.items()))


def class_balanced_subset(
    presence: Mapping[str, AbstractSet[int]], fraction: float, seed: int = 0
) -> list[str]:
    """Choose about ``fraction`` of the images of every class, deterministically from ``seed``.

    Args:
        presence: the object classes each image shows, as from
            :func:`dropseg.data.voc.class_presence`.
        fraction: share of each class's images to keep, in (0, 1].
        seed: seed of the shuffle; the same presence, fraction and seed give the same subset.

    Returns:
        The chosen ids, sorted.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return sorted(presence)

    order = sorted(presence)
    random.Random(seed).shuffle(order)
    totals = class_counts(presence)
    quotas = {cls: max(1, round(fraction * total)) for cls, total in totals.items()}

    chosen: set[str] = set()
    have = dict.fromkeys(totals, 0)
    for cls in sorted(totals, key=lambda c: (totals[c], c)):
        for image_id in order:
            if have[cls] >= quotas[cls]:
                break
            if cls in presence[image_id] and image_id not in chosen:
                chosen.add(image_id)
                for present in presence[image_id]:
                    have[present] += 1
    return sorted(chosen)
