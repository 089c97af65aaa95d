"""Per-image mIoU, dataset mIoU and the summary, against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dropseg.metrics import ConfusionMatrix, batch_confusion_matrices, per_image_miou, summarize


def maps(*rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.int64)


def test_perfect_prediction_scores_one():
    target = maps([[0, 0, 3], [3, 3, 7]])
    assert per_image_miou(target.clone(), target).tolist() == [1.0]


def test_all_background_image():
    target = maps([[0, 0], [0, 0]])
    assert per_image_miou(target.clone(), target).tolist() == [1.0]
    # Predicting a class that is absent from the label adds that class with IoU 0.
    pred = maps([[0, 0], [0, 5]])
    # background: TP 3, union 4 -> 0.75; class 5: TP 0, union 1 -> 0.
    assert per_image_miou(pred, target).tolist() == [pytest.approx((0.75 + 0.0) / 2)]


def test_ignore_label_respected():
    target = maps([[1, 1, 255], [0, 255, 255]])
    pred = maps([[1, 1, 2], [0, 3, 4]])
    # Every predicted 2, 3 and 4 sits on an ignored pixel, so those classes never appear.
    assert per_image_miou(pred, target).tolist() == [1.0]


def test_absent_classes_skipped():
    target = maps([[0, 0, 1, 1]])
    pred = maps([[0, 1, 1, 1]])
    # background: TP 1, FN 1 -> 1/2; class 1: TP 2, FP 1 -> 2/3; the other 19 classes are skipped.
    expected = (1 / 2 + 2 / 3) / 2
    assert per_image_miou(pred, target).tolist() == [pytest.approx(expected)]


def test_prediction_of_class_absent_from_label():
    target = maps([[0, 0, 2, 2]])
    pred = maps([[0, 9, 2, 2]])
    # background 1/2, class 2 1, class 9 (predicted, not in label) 0.
    assert per_image_miou(pred, target).tolist() == [pytest.approx((0.5 + 1.0 + 0.0) / 3)]


def test_images_of_a_batch_are_independent():
    target = torch.stack([maps([[0, 0, 1, 1]])[0], maps([[0, 0, 2, 2]])[0]])
    pred = torch.stack([maps([[0, 0, 1, 1]])[0], maps([[2, 2, 0, 0]])[0]])
    assert per_image_miou(pred, target).tolist() == [1.0, 0.0]


def test_all_ignored_image_gives_nan():
    target = maps([[255, 255]])
    assert math.isnan(per_image_miou(maps([[1, 2]]), target).item())


def test_matches_loop_reference_on_random_maps():
    generator = torch.Generator().manual_seed(7)
    target = torch.randint(0, 21, (4, 40, 50), generator=generator)
    target[:, :5] = 255
    pred = torch.where(
        torch.rand(4, 40, 50, generator=generator) < 0.6, target, torch.randint(0, 21, (4, 40, 50))
    )
    pred[pred == 255] = 0

    expected = []
    for p, t in zip(pred.numpy(), target.numpy(), strict=True):
        valid = t != 255
        ious = []
        for c in range(21):
            inter = np.sum((p == c) & (t == c) & valid)
            union = np.sum(((p == c) | (t == c)) & valid)
            if union:
                ious.append(inter / union)
        expected.append(np.mean(ious))
    np.testing.assert_allclose(per_image_miou(pred, target).numpy(), expected, rtol=1e-12)


def test_confusion_matrix_orientation():
    matrices = batch_confusion_matrices(maps([[1, 2]]), maps([[1, 1]]), num_classes=3)
    # Rows are labels, columns predictions: one pixel of class 1 was called 2.
    assert matrices[0].tolist() == [[0, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_out_of_range_label_rejected():
    with pytest.raises(ValueError, match=r"labels other than ignore_index=255 must be in \[0, 21\)"):
        per_image_miou(maps([[0, 1]]), maps([[0, 30]]))


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        per_image_miou(maps([[0, 1]]), maps([[0, 1, 1]]))


def test_dataset_miou_differs_from_mean_per_image():
    cm = ConfusionMatrix(num_classes=3)
    # Image 1: 8 pixels of class 1, all right. Image 2: 2 pixels of class 2, both called 1.
    cm.update(maps([[1] * 8]), maps([[1] * 8]))
    cm.update(maps([[1, 1]]), maps([[2, 2]]))
    per_class = cm.per_class_iou()
    assert math.isnan(per_class[0].item())
    assert per_class[1].item() == pytest.approx(8 / 10)
    assert per_class[2].item() == 0.0
    assert cm.miou() == pytest.approx(0.4)
    # Per image: image 1 scores 1.0, image 2 scores (0 + 0) / 2 = 0, mean 0.5.
    assert cm.pixel_accuracy() == pytest.approx(0.8)


def test_confusion_matrix_add_and_reset():
    cm = ConfusionMatrix(num_classes=3)
    cm.add(torch.eye(3, dtype=torch.int64))
    assert cm.miou() == 1.0
    cm.reset()
    assert int(cm.matrix.sum()) == 0


def test_summarize_statistics():
    summary = summarize([0.2, 0.4, 0.9, math.nan])
    assert summary["mean"] == pytest.approx(0.5)
    assert summary["std"] == pytest.approx(np.std([0.2, 0.4, 0.9]))
    assert summary["worst"] == 0.2
    assert summary["median"] == 0.4
    assert summary["best"] == 0.9


def test_summarize_empty_gives_nan():
    assert all(math.isnan(value) for value in summarize([]).values())
