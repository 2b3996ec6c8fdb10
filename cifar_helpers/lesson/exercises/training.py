"""The checks of notebook 4. Training."""

from __future__ import annotations

import math
from typing import Any

from ...core.validation import boolean_value
from ...training.metrics import lowest_record
from . import Verdict, _final, _separated, _unanswered, exercise, missing, right, wrong


def _runs(histories: Any, keys: set, what: str) -> Verdict | None:
    if _unanswered(histories) or not isinstance(histories, dict) or not histories:
        return missing(f"fill histories with one short run per {what}.")
    if set(histories) != set(keys):
        return wrong(f"train one short run for each {what} in {sorted(keys)} and keep its history under that key.")
    if any(hasattr(history, "history") for history in histories.values()):
        return wrong("keep each run's history (model.history), not the model itself.")
    if any(not isinstance(history, list) or not history or not isinstance(history[-1], dict)
           or "val_loss" not in history[-1] for history in histories.values()):
        return wrong("keep each run's history (model.history): a list of epoch records with val_loss.")
    return None


@exercise("4.1")
def _learning_rates(histories: Any, worst_rate: Any) -> Verdict:
    problem = _runs(histories, {0.01, 0.001, 0.0001}, "learning rate")
    if problem:
        return problem
    if _unanswered(worst_rate):
        return missing("set worst_rate to the learning rate whose training loss is highest after the last epoch.")
    final = {lr: _final(histories[lr], "train_loss") for lr in histories}
    expected = max(final, key=final.get)
    if worst_rate != expected:
        return wrong("compare each run's train_loss in its last epoch: which is highest?")
    if expected == 0.01 and abs(final[expected] - math.log(10)) < 0.05:  # still the loss of a guess
        return right(f"with lr=0.01 the training loss ends at {final[expected]:.3f}, still near ln 10 = 2.303, "
                     "the loss of a guess: steps that large throw the network off, and it does not learn. "
                     "With lr=0.0001 it learns, slowly: small steps crawl.")
    if expected == 0.01:
        return right("with lr=0.01 the loss fell least: steps that large overshoot.")
    if expected == 0.0001:
        return right("with lr=0.0001 the loss fell least: small steps crawl.")
    return right("an unusual result: the default rate did worst. Look at the three runs' losses epoch by epoch.")


DROPOUT_RUNS = {(p, seed) for p in (0.0, 0.5) for seed in (0, 1)}  # exercise 4.2: DropoutCNN


@exercise("4.2")
def _dropout_gap(histories: Any, bigger_gap: Any) -> Verdict:
    problem = _runs(histories, DROPOUT_RUNS, "(dropout, seed) pair")
    if problem:
        return problem
    if _unanswered(bigger_gap):
        return missing("set bigger_gap to 0.0, 0.5 or \"neither\".")
    gaps = {key: _final(h, "val_loss") - _final(h, "train_loss") for key, h in histories.items()}
    larger, separation, spread = _separated(gaps)
    shown = ", ".join(f"{p} (seed {seed}): {gaps[p, seed]:+.3f}" for p, seed in sorted(gaps))
    if larger is None:
        if bigger_gap == "neither":
            return right(f"the gaps are {shown}. The settings differ by no more than two seeds of one setting do "
                         f"({spread:.3f}): these runs cannot tell them apart.")
        return wrong(f"the two seeds of one setting differ by up to {spread:.3f}: do the settings differ by more?")
    if bigger_gap == larger:
        effect = ("dropout between the hidden layers narrows the gap: without it the network fits its 2,000 "
                  "training images far more closely than it fits new ones." if larger == 0.0 else
                  "an unusual result: here dropout widened the gap. Look at the curves of both settings.")
        return right(f"the gaps are {shown}: the settings differ by at least {separation:.3f}, more than two seeds "
                     f"of one setting do ({spread:.3f}). So {effect}")
    if bigger_gap == "neither":
        return wrong(f"the settings differ by at least {separation:.3f}, more than the seeds do ({spread:.3f}): "
                     "which setting's gaps are larger?")
    return wrong("in each run's last epoch, subtract train_loss from val_loss; which setting's gaps are larger?")


@exercise("4.3")
def _flips(histories: Any, better: Any) -> Verdict:
    problem = _runs(histories, {True, False}, "random_flips setting")
    if problem:
        return problem
    if _unanswered(better):
        return missing("set better to the random_flips setting (True or False) with the higher final "
                       "validation accuracy.")
    accuracy = {flips: _final(histories[flips], "val_accuracy") for flips in histories}
    expected = max(accuracy, key=accuracy.get)
    if boolean_value(better) is not None and accuracy[boolean_value(better)] == accuracy[expected]:  # a tie: either
        return right(f"the two runs end {abs(accuracy[True] - accuracy[False]):.1%} apart. One pair of short runs "
                     "cannot say whether a difference that small is more than chance: that takes several seeds, as "
                     "in exercise 4.2.")
    return wrong("compare val_accuracy in each run's last epoch.")


@exercise("4.4")
def _subset(history: Any, baseline: list[dict[str, float]], lower: Any) -> Verdict:
    if _unanswered(history, lower) or not history:
        return missing("train a short run on 5,000 images (history) and set lower to True or False.")
    if not isinstance(history, list) or not isinstance(history[-1], dict) or "val_accuracy" not in history[-1]:
        return wrong("keep the run's history (model.history): a list of epoch records with val_accuracy.")
    expected = _final(history, "val_accuracy") < _final(baseline, "val_accuracy")
    lower = boolean_value(lower)
    if lower is None:
        return wrong("set lower to True or False: is your run's final val_accuracy below the baseline's?")
    if lower == expected:
        return right("fewer images means fewer examples of each class to learn from, and shorter epochs too."
                     if expected else "an unusual result: look at the two runs' curves.")
    return wrong("compare val_accuracy in the last epoch of your run and of the baseline run.")


@exercise("4.5")
def _plugin(reported: Any, history: Any) -> Verdict:
    if _unanswered(reported) or not reported:
        return missing("register your report plugin, train, and let it append each epoch's validation "
                       "accuracy to reported.")
    if _unanswered(history):
        return missing("keep that run's history (model.history) in history_report.")
    if not isinstance(history, list):
        return wrong("keep that run's history (model.history), not the model itself, in history_report.")
    expected = [record.get("val_accuracy") for record in history]
    if list(reported) == expected:
        return right("your plugin saw every epoch's record. Plugins receive the training state as keywords.")
    if len(reported) != len(expected):
        return wrong(f"reported has {len(reported)} values for {len(expected)} epochs: register the plugin on "
                     "'on_end_epoch'.")
    return wrong("append record['val_accuracy'], the value for the epoch that just ended.")


@exercise("4.6")
def _early_stop(model: Any, epochs: int) -> Verdict:
    if _unanswered(model):
        return missing("train a short run with early stopping until it fires, and keep the model in stopper.")
    history = model.history
    if not history or "val_loss" not in history[-1]:
        return wrong("train with a validation set and patience=... so that early stopping watches val_loss.")
    reason = model.state.stop_reason
    if reason is None:
        return wrong("it ran every epoch: early stopping did not fire. Give it less patience, or make the model "
                     "overfit sooner (fewer images, no dropout, a larger learning rate).")
    if "has not improved" not in reason:  # EarlyStopping's reason, whichever epoch it fired in
        return wrong(f"it stopped, but not by early stopping ({reason}).")
    best = (lowest_record(history) or {}).get("epoch")
    if model.weights_epoch != best:
        return wrong("the model should hold the best epoch's weights: keep EarlyStopping's restore_best=True.")
    return right(f"it stopped after epoch {len(history)} and kept epoch {best}'s weights, where the validation "
                 "loss was lowest.")
