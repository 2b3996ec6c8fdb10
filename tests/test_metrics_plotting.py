"""Metrics, the normalisation transforms, and the plotting helpers (on the Agg backend)."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from cifar_helpers import (CIFAR10_MEAN, CIFAR10_STD, CLASSES, accuracy, batch_to_tensors, classification_accuracy,
                           confusion_matrix, most_confused, per_class_accuracy, plot_class_counts,
                           plot_confusion_matrix, plot_history, prediction_gallery, show_images, to_images)

# --- metrics ----------------------------------------------------------------------------------


def test_accuracy_from_labels_and_from_scores():
    expected = torch.tensor([0, 1, 2, 2])
    assert accuracy(torch.tensor([0, 1, 1, 2]), expected).item() == pytest.approx(0.75)
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.0, 0.0, 1.0]])
    assert accuracy(scores, expected).item() == pytest.approx(0.75)
    assert accuracy(np.array([3, 3]), [3, 4]).item() == pytest.approx(0.5)
    assert classification_accuracy(scores, (None, expected)).item() == pytest.approx(0.75)


def test_a_column_of_class_indices_counts_as_indices_not_as_scores():
    """output.topk(1).indices is (N, 1): argmax over its one column would make every prediction class 0."""
    labels = torch.tensor([3, 5, 0, 7])
    column = torch.nn.functional.one_hot(labels, 10).float().topk(1).indices
    assert accuracy(column, labels).item() == 1.0
    assert confusion_matrix(column, labels).diagonal().tolist() == [1, 0, 0, 1, 0, 1, 0, 1, 0, 0]
    with pytest.raises(ValueError, match=r"one score per image \(N, 1\)"):
        accuracy(torch.rand(4, 1), labels)


def test_metrics_refuse_what_they_cannot_score():
    with pytest.raises(ValueError, match="no predictions to score"):
        accuracy(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match=r"predicted has shape \(2, 3, 4\)"):
        accuracy(torch.rand(2, 3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="predicted holds fractional labels such as 1.7"):
        confusion_matrix(torch.tensor([0.0, 1.7]), torch.tensor([0, 1]))
    assert confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), num_classes=2).tolist() == [[1, 0], [0, 1]]


def test_accuracy_shape_mismatch():
    with pytest.raises(ValueError, match="one prediction per label"):
        accuracy(torch.tensor([0, 1, 2]), torch.tensor([0, 1]))


def test_confusion_matrix_by_hand():
    expected = [0, 0, 1, 1, 1, 2]
    predicted = [0, 1, 1, 1, 2, 0]
    matrix = confusion_matrix(torch.tensor(predicted), torch.tensor(expected), num_classes=3)
    assert matrix.dtype == torch.int64
    assert matrix.tolist() == [[1, 1, 0],   # true 0: once right, once taken for 1
                               [0, 2, 1],   # true 1: twice right, once taken for 2
                               [1, 0, 0]]   # true 2: taken for 0
    scores = torch.nn.functional.one_hot(torch.tensor(predicted), 3).float()
    assert torch.equal(confusion_matrix(scores, expected, num_classes=3), matrix)


def test_per_class_accuracy():
    matrix = torch.tensor([[1, 1, 0], [0, 2, 1], [0, 0, 0]])
    values = per_class_accuracy(matrix)
    assert values[:2].tolist() == pytest.approx([0.5, 2 / 3])
    assert math.isnan(values[2])  # a class without samples


def test_most_confused():
    matrix = torch.tensor([[9, 1, 4], [0, 9, 2], [7, 0, 9]])
    assert most_confused(matrix, ["a", "b", "c"], top=3) == [("c", "a", 7), ("a", "c", 4), ("b", "c", 2)]
    assert most_confused(torch.eye(3, dtype=torch.int64) * 5, ["a", "b", "c"]) == []  # no mistakes
    assert most_confused(torch.tensor([[3, 1], [2, 4]]), ["a", "b"]) == [("b", "a", 2), ("a", "b", 1)]  # top > pairs


# --- transforms -------------------------------------------------------------------------------------


def test_batch_to_tensors_shapes_types_and_normalisation(synthetic_train):
    x, y = batch_to_tensors((synthetic_train.images, synthetic_train.labels))
    assert x.shape == (256, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    pixel = synthetic_train.images[5, 3, 7] / 255  # x[i, channel, row, col] is (pixel / 255 - mean) / std
    np.testing.assert_allclose(x[5, :, 3, 7], (pixel - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD), atol=1e-5)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    assert mean.abs().max() < 0.3 and ((std > 0.7) & (std < 1.4)).all()
    # A pixel equal to the CIFAR-10 mean becomes exactly 0 in every channel.
    at_mean = np.broadcast_to(np.round(np.array(CIFAR10_MEAN) * 255), (1, 32, 32, 3)).astype(np.uint8)
    assert batch_to_tensors((at_mean, [0]))[0].abs().max() < 0.01


def test_batch_to_tensors_is_exact_for_every_pixel_value_and_stays_channels_last():
    images = np.stack([np.arange(256, dtype=np.uint8).reshape(16, 16)] * 3, axis=-1)  # every value, 3 channels
    images = np.tile(images, (2, 2, 1))[None].repeat(2, axis=0)                        # (2, 32, 32, 3)
    x, _ = batch_to_tensors((images, [0, 1]))
    expected = (torch.from_numpy(images).permute(0, 3, 1, 2).double() / 255
                - torch.tensor(CIFAR10_MEAN, dtype=torch.float64)[:, None, None]) / torch.tensor(
                    CIFAR10_STD, dtype=torch.float64)[:, None, None]
    torch.testing.assert_close(x.double(), expected, atol=1e-6, rtol=0)
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_batch_to_tensors_refuses_images_that_are_not_uint8(synthetic_train):
    with pytest.raises(TypeError, match="expected uint8 .*astype"):
        batch_to_tensors((synthetic_train.images[:4].astype(np.float32), synthetic_train.labels[:4]))


@pytest.mark.parametrize("shape", [(2, 32, 32, 4), (2, 3, 32, 32), (2, 32, 32, 1), (32, 32, 3)])
def test_batch_to_tensors_refuses_images_that_are_not_rgb_channels_last(shape):
    with pytest.raises(ValueError, match=r"expected RGB images \(N, height, width, 3\)"):
        batch_to_tensors((np.zeros(shape, np.uint8), [0, 1]))


def test_to_images_inverts_batch_to_tensors(synthetic_train):
    images = synthetic_train.images[:16]
    x, _ = batch_to_tensors((images, synthetic_train.labels[:16]))
    back = to_images(x)
    assert back.shape == (16, 32, 32, 3) and back.min() >= 0 and back.max() <= 1
    np.testing.assert_allclose(back, images / 255, atol=1 / 255)
    assert to_images(x[0]).shape == (32, 32, 3)


# --- plotting ----------------------------------------------------------------------------------------


def test_show_images(synthetic_train):
    fig = show_images(synthetic_train.images[:10], synthetic_train.labels[:10], CLASSES, ncols=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 12  # 3 rows of 4
    assert fig.axes[0].get_title() == CLASSES[synthetic_train.labels[0]]
    assert fig.axes[11].get_title() == ""


def test_show_images_of_tensors_with_predictions(synthetic_tensors):
    x, y = synthetic_tensors
    predicted = y[:3].clone()
    predicted[1] = (y[1] + 1) % 10
    fig = show_images(x[:3], y[:3], CLASSES, predicted=predicted)
    assert len(fig.axes) == 3
    assert "(is " in fig.axes[1].get_title() and "(is " not in fig.axes[0].get_title()


def test_plot_history():
    history = [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1}, {"epoch": 2, "train_loss": 1.5, "val_loss": 1.7}]
    fig = plot_history(history)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    train, validation, best = fig.axes[0].lines
    assert list(best.get_xdata()) == [2, 2] and "epoch 2" in best.get_label()  # the lowest validation loss
    history[1]["val_accuracy"] = 0.4
    assert len(plot_history(history, figure=fig).axes) == 2  # redraws the same figure
    history[0]["val_loss"] = float("nan")  # a diverged epoch is never the best, as for EarlyStopping
    assert list(plot_history(history).axes[0].lines[-1].get_xdata()) == [2, 2]


def test_plot_confusion_matrix_and_class_counts():
    matrix = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]), num_classes=3)
    fig = plot_confusion_matrix(matrix, ["a", "b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the heat map and its colour bar
    assert isinstance(plot_confusion_matrix(matrix, ["a", "b", "c"], normalize=False), Figure)


def test_the_confusion_heat_map_shows_each_true_class_as_fractions_of_its_row():
    counts = np.array([[2, 0, 0], [1, 1, 0], [0, 3, 1]])  # rows: true class
    fig = plot_confusion_matrix(counts, ["a", "b", "c"])
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown, counts / counts.sum(axis=1, keepdims=True))
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in fig.axes[0].texts}
    assert texts[(2, 1)] == "0.75" and texts[(1, 0)] == "0.50"  # (row, column): true c taken for b 3 times in 4
    assert fig.axes[0].get_ylabel() == "true class" and fig.axes[0].get_xlabel() == "predicted class"
    raw = plot_confusion_matrix(counts, ["a", "b", "c"], normalize=False)
    assert np.array_equal(np.asarray(raw.axes[0].images[0].get_array()), counts)
    fig = plot_class_counts(np.array([0, 0, 2]), ["a", "b", "c"])
    assert len(fig.axes) == 1 and [p.get_height() for p in fig.axes[0].patches] == [2, 0, 1]


def test_prediction_gallery(synthetic_train):
    labels = synthetic_train.labels[:40]
    predicted = labels.copy()
    predicted[:10] = (labels[:10] + 1) % 10  # 10 wrong, 30 right
    fig = prediction_gallery(synthetic_train.images[:40], labels, predicted, CLASSES, per_kind=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    colours = [matplotlib.colors.to_hex(ax.title.get_color()) for ax in fig.axes]
    assert colours == ["#008000"] * 4 + ["#ff0000"] * 4  # a row right (green), a row wrong (red)


def test_confusion_matrix_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(torch.tensor([0, 11]), torch.tensor([0, 1]), num_classes=10)
    with pytest.raises(ValueError, match="negative labels .*count from 0"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([-1, 1]), num_classes=10)


def test_prediction_gallery_keeps_right_and_wrong_on_separate_rows():
    images = np.zeros((10, 32, 32, 3), np.uint8)
    labels = np.arange(10)
    predicted = labels.copy()
    predicted[:7] = (predicted[:7] + 1) % 10  # 3 right, 7 wrong
    fig = prediction_gallery(images, labels, predicted, CLASSES, per_kind=8)
    axes = fig.axes
    assert sum(bool(ax.images) for ax in axes[:8]) == 3, "first row: the 3 right ones, then empty places"
    assert sum(bool(ax.images) for ax in axes[8:]) == 7, "second row: the wrong ones"
    assert all(ax.title.get_color() == "red" for ax in axes[8:15])


def test_batch_to_tensors_off_the_cpu_keeps_shapes_types_and_layout():
    """The path for GPUs, run on PyTorch's 'meta' device (shapes and types, no data)."""
    images = np.zeros((4, 32, 32, 3), np.uint8)
    x, y = batch_to_tensors((images, [1, 2, 3, 4]), device="meta")
    assert x.device.type == y.device.type == "meta"
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_the_gpu_normalisation_computes_what_the_cpu_table_does():
    from cifar_helpers.data.normalize import _normalise

    images = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    on_cpu, _ = batch_to_tensors((images, np.zeros(8)))
    torch.testing.assert_close(_normalise(torch.from_numpy(images)), on_cpu, atol=1e-5, rtol=0)


def test_batch_to_tensors_takes_uint8_tensors_and_tensor_labels_as_it_takes_numpy():
    """Notebook 6 on a GPU keeps its training images there as uint8 tensors."""
    images = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(8)
    expected_x, expected_y = batch_to_tensors((images, labels))
    x, y = batch_to_tensors((torch.from_numpy(images), torch.from_numpy(labels).to(torch.int32)))
    assert torch.equal(x, expected_x) and torch.equal(y, expected_y) and y.dtype == torch.int64
    x, y = batch_to_tensors((torch.from_numpy(images).to("meta"), torch.from_numpy(labels).to("meta")), device="meta")
    assert x.device.type == y.device.type == "meta" and x.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(TypeError, match="expected uint8"):
        batch_to_tensors((torch.zeros(2, 32, 32, 3), labels[:2]))


def test_prediction_gallery_titles_name_the_guess_and_the_true_class_of_the_image_shown():
    """Image i is all i: each place's picture says which image it is, its title what was guessed and what it is."""
    images = np.stack([np.full((32, 32, 3), i, np.uint8) for i in range(20)])
    labels = np.arange(20) % 10
    predicted = labels.copy()
    predicted[[2, 5, 11, 13, 17]] = [7, 0, 4, 9, 3]  # 5 wrong, 15 right
    fig = prediction_gallery(images, labels, predicted, CLASSES, per_kind=5, seed=1)
    shown = [int(ax.images[0].get_array()[0, 0, 0]) for ax in fig.axes]
    assert len(set(shown)) == 10 and sorted(shown[5:]) == [2, 5, 11, 13, 17], "the right row first, then the wrong"
    for ax, i in zip(fig.axes, shown):
        right = i not in (2, 5, 11, 13, 17)
        expected = CLASSES[labels[i]] if right else f"{CLASSES[predicted[i]]}\n(is {CLASSES[labels[i]]})"
        assert ax.get_title() == expected
        assert matplotlib.colors.to_hex(ax.title.get_color()) == ("#008000" if right else "#ff0000")
