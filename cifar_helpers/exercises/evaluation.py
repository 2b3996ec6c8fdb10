"""The checks of notebook 5. Evaluation."""

import numpy as np

from . import _unanswered, exercise, missing, right, wrong


@exercise("5.1")
def _best_and_worst(best_class, worst_class, per_class, classes):
    if _unanswered(best_class, worst_class):
        return missing("set best_class and worst_class to class names.")
    per_class = np.asarray(per_class, dtype=float)
    expected = classes[int(np.argmax(per_class))], classes[int(np.argmin(per_class))]
    tied = {name for name, value in zip(classes, per_class) if value == per_class.max()}, {
        name for name, value in zip(classes, per_class) if value == per_class.min()}
    if best_class in tied[0] and worst_class in tied[1]:  # with a tie, either of the tied classes
        return right(f"{expected[0]} ({per_class.max():.1%}) and {expected[1]} ({per_class.min():.1%}).")
    return wrong("read them off per_class_accuracy(matrix): the largest and the smallest value.")


@exercise("5.2")
def _most_confident_wrong(index, probabilities, labels):
    if _unanswered(index):
        return missing("set index to the position of that test image.")
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    wrong_ones = np.flatnonzero(predicted != np.asarray(labels))
    expected = int(wrong_ones[np.argmax(probabilities[wrong_ones].max(axis=1))])
    if int(index) == expected:
        return right(f"test image {expected}: {probabilities[expected].max():.1%} sure, and wrong.")
    if predicted[int(index)] == labels[int(index)]:
        return wrong("the model got that image right: look only among the wrong predictions.")
    return wrong("among the wrong predictions, take the one whose highest probability is largest.")


@exercise("5.3")
def _mirror_gain(most_gained, model, test_loader, labels, classes):
    from ..metrics import confusion_matrix, per_class_accuracy

    if _unanswered(most_gained):
        return missing("set most_gained to the class whose accuracy rises most with the mirror look.")
    one_look, two_looks = (per_class_accuracy(confusion_matrix(
        model.predict_dataset(test_loader, mirror=mirror).argmax(dim=1), labels, len(classes))).numpy()
        for mirror in (False, True))
    gains = two_looks - one_look
    expected = classes[int(np.argmax(gains))]
    if most_gained in {name for name, gain in zip(classes, gains) if gain == gains.max()}:  # ties: either
        return right(f"{expected} gains {gains.max():+.1%}; the gains range from {gains.min():+.1%} to "
                     f"{gains.max():+.1%}.")
    return wrong("subtract each class's one-look accuracy from its two-look accuracy and take the largest.")


@exercise("5.4")
def _dropout_on_test(test_accuracy, run_dir, test_loader):
    from ..cnn import CNN
    from ..metrics import classification_accuracy

    paths = {p: run_dir / f"exercise_dropout_{p}.pt" for p in (0.0, 0.3)}
    if not all(path.is_file() for path in paths.values()):
        return missing("run exercise 4.2 of notebook 4 first: it saves the two short runs' models in run_dir.")
    if _unanswered(test_accuracy) or set(test_accuracy) != set(paths):
        return missing("set test_accuracy to {0.0: ..., 0.3: ...}, each model's accuracy on the test images.")
    if any(isinstance(value, (int, float)) and value > 1 for value in test_accuracy.values()):
        return wrong("give each accuracy as a fraction, such as 0.46, not as a percentage.")
    device = next(iter(test_loader))[0].device
    expected = {p: CNN(dropout=p).to(device).load(path).evaluate_with_metrics(
        test_loader, {"accuracy": classification_accuracy})["accuracy"] for p, path in paths.items()}
    if all(abs(test_accuracy[p] - expected[p]) < 1e-3 for p in expected):
        better = max(expected, key=expected.get)
        return right(f"dropout {better} scores higher on the test images ({expected[better]:.1%}). Compare "
                     "with the gaps you measured in notebook 4.")
    return wrong("load each model with CNN(dropout=p).load(path) and evaluate it on test_loader with "
                 "classification_accuracy.")
