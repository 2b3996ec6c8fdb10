"""Checkpoints are written atomically: a new file is renamed into place, so a reader of the old
file keeps all of it, and a save that fails midway leaves the old file as it was and no
temporary file behind."""

import errno

import pytest
import torch

from cifar_helpers.training.checkpoint import load_checkpoint, save_checkpoint


def _payload(value):
    return {"state_dict": {"weight": torch.full((64, 64), float(value))}, "epoch": value}


def test_a_checkpoint_being_read_is_replaced_not_overwritten(tmp_path):
    path = save_checkpoint(_payload(1), tmp_path / "run" / "model.pt")
    older = path.read_bytes()
    with path.open("rb") as reader:  # a reader that opened the old file (another notebook, say)
        save_checkpoint(_payload(2), path)
        assert reader.read() == older  # still the whole old file: the new one took its name
    assert load_checkpoint(path)["epoch"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), ValueError("a bug")],
                         ids=["full disk", "serialiser error"])
def test_a_save_that_fails_midway_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch, failure):
    path = save_checkpoint(_payload(1), tmp_path / "run" / "model.pt")
    older = path.read_bytes()

    def half_then_fail(payload, file):
        file.write(older[: len(older) // 2])
        raise failure

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(type(failure)) as error:
        save_checkpoint(_payload(2), path)
    if isinstance(failure, OSError):  # one line naming the file, and saying the old one is safe
        message = str(error.value)
        assert "\n" not in message and str(path) in message and "No space left" in message and "unchanged" in message
    else:
        assert error.value is failure  # not a write failure: the error is not reworded
    assert path.read_bytes() == older
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "a temporary file was left behind"
