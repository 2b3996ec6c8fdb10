"""The checks of notebook 6. The fast track."""

from __future__ import annotations

from typing import Any

from . import Verdict, _unanswered, exercise, missing, right, wrong


@exercise("6.1")
def _largest_gain(largest_gain: Any, table: list[dict]) -> Verdict:
    if _unanswered(largest_gain):
        return missing("set largest_gain to the name of the step that gained most over the step before it.")
    short = [row for row in table if not row["step"].startswith("all")]
    if len(short) < 2:
        return missing("the short runs did not run (ablation_epochs = 0): set ablation_epochs and run them first.")
    gains = {row["step"]: row["test_accuracy"] - before["test_accuracy"] for before, row in zip(short, short[1:])}
    expected = max(gains, key=gains.get)
    if largest_gain == expected:
        return right(f"{expected}: {gains[expected]:+.1%}.")
    if largest_gain not in gains:
        return wrong("use a step name exactly as it appears in table (row['step']), other than the first.")
    return wrong("subtract each step's test accuracy from the next one's; which difference is largest?")


@exercise("6.2")
def _views_speed(images_per_second: Any) -> Verdict:
    if _unanswered(images_per_second) or set(images_per_second or {}) != {1, 6}:
        return missing("set images_per_second to {1: ..., 6: ...}.")
    if not all(isinstance(v, (int, float)) and v > 0 for v in images_per_second.values()):
        return wrong("each value should be a positive number of images per second.")
    if images_per_second[1] <= images_per_second[6]:
        return wrong("six views should take longer than one, so fewer images per second: are the two swapped?")
    ratio = images_per_second[1] / images_per_second[6]
    return right(f"six views are {ratio:.1f}x slower than one: each view is a full pass through the network.")
