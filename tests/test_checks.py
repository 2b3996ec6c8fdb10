"""Argument checks and the lesson's parameters: one clear line naming the parameter, text read as people mean it."""

import argparse
import math

import numpy as np
import pytest
import torch

from cifar_helpers import (CNN, DataSet, EarlyStopping, FastNet, Muon, check_parameters, load_cifar10, notebook_setup,
                           parse_bool, plot_confusion_matrix, select_device)
from cifar_helpers.core.validation import argument_type, real_number, whole_number
from cifar_helpers.lesson.parameters import RULES


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("False", False), ("false", False), ("true", True), ("True", True),
    ("0", False), ("1", True), ("yes", True), ("no", False), (" YES ", True), ("off", False), (0, False),
    (1, True), (np.bool_(True), True), (np.bool_(False), False), (torch.tensor(False), False),
])
def test_parse_bool(value, expected):
    assert parse_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, "ture", None, "", "none", 0.5])
def test_parse_bool_rejects_other_values_naming_the_parameter(value):
    with pytest.raises(ValueError, match=r"cuda=.*yes/no"):
        parse_bool(value, "cuda")


@pytest.mark.parametrize("value, expected", [(5, 5), ("5", 5), (np.int64(5), 5), (torch.tensor(5), 5)])
def test_whole_number_accepts_numbers_and_text(value, expected):
    assert whole_number(value, "n", 3) == expected and type(whole_number(value, "n", 3)) is int


@pytest.mark.parametrize("value", [0, -1, 1.5, 5.0, True, "x", None, "1e3"])
def test_whole_number_refuses(value):
    with pytest.raises(ValueError, match=r"batch_size=.* must be a positive whole number, such as 64"):
        whole_number(value, "batch_size", 64)


def test_whole_number_with_a_minimum_of_zero():
    assert whole_number(0, "seed", 0, minimum=0) == 0
    with pytest.raises(ValueError, match=r"seed=-1 must be a whole number >= 0"):
        whole_number(-1, "seed", 0, minimum=0)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "inf", 0, -1e-3, True])
def test_real_number_refuses_non_finite_and_out_of_range(value):
    with pytest.raises(ValueError, match=r"learning_rate=.* must be a number > 0, such as 0.001"):
        real_number(value, "learning_rate", 0.001, low=0, low_open=True)


def test_real_number_bounds():
    assert real_number("1e-3", "lr", 0.001, low=0, low_open=True) == 0.001
    assert real_number(np.float32(0.5), "p", 0.5, low=0, high=1) == 0.5
    with pytest.raises(ValueError, match=r"between 0 and 1 \(1 excluded\)"):
        real_number(1, "dropout", 0.3, low=0, high=1, high_open=True)


def test_check_parameters_reads_papermills_text_and_keeps_other_names():
    namespace = {"random_flips": "false", "mirror": "True", "cuda": False, "train_subset": "None",
                 "max_epochs": "3", "learning_rate": "1e-3", "widths": "32,64,128", "unrelated": "false"}
    check_parameters(namespace)
    assert namespace == {"random_flips": False, "mirror": True, "cuda": False, "train_subset": None,
                         "max_epochs": 3, "learning_rate": 0.001, "widths": (32, 64, 128), "unrelated": "false"}


@pytest.mark.parametrize("name, value, message", [
    ("train_subset", -5, r"train_subset=-5 must be a positive whole number"),
    ("random_flips", "flase", r"random_flips='flase' is not a yes/no value"),
    ("learning_rate", math.inf, r"learning_rate=inf must be a number > 0"),
    ("dropout", 1.0, r"dropout=1.0 must be a number between 0 and 1 \(1 excluded\)"),
    ("validation_fraction", 0, r"validation_fraction=0 must be a number between 0 and 1"),
    ("source", "web", r"source='web' must be one of 'auto', 'torchvision', 'local', 'synthetic'"),
    ("widths", "32,64", r"widths='32,64' must be three channel counts"),
    ("data_dir", "", r"data_dir='' must be a folder name"),
    ("learning_rate", 0, r"learning_rate=0 must be a number > 0"),
    ("seed", -1, r"seed=-1 must be a whole number >= 0"),
    ("patience", 0, r"patience=0 must be a positive whole number"),
    ("epochs", "ten", r"epochs='ten' must be a positive whole number"),
    ("ablation_epochs", -1, r"ablation_epochs=-1 must be a whole number >= 0"),
    ("bfloat16", "sometimes", r"bfloat16='sometimes' is not a yes/no value"),
])
def test_check_parameters_names_the_notebook_parameter(name, value, message):
    with pytest.raises(ValueError, match=message):
        check_parameters({name: value})


@pytest.mark.parametrize("name, value, expected", [
    ("seed", 0, 0), ("seed", "7", 7), ("patience", "5", 5), ("ablation_epochs", 0, 0), ("batch_size", "500", 500),
    ("label_smoothing", 0, 0.0), ("dropout", "0", 0.0),
    ("widths", None, None), ("widths", "None", None), ("bfloat16", None, None), ("bfloat16", "false", False),
])
def test_check_parameters_accepts_the_edge_values_the_lessons_use(name, value, expected):
    assert check_parameters({name: value}) == {name: expected}


@pytest.mark.parametrize("name", [name for name in RULES if name in ("cuda", "random_flips", "mirror", "augment")])
def test_every_yes_no_parameter_reads_papermills_text_as_meant(name):
    for text, meant in (("false", False), ("no", False), ("0", False), ("True", True), ("yes", True)):
        assert check_parameters({name: text}) == {name: meant}


def _saved_model(tmp_path):
    return CNN().save(tmp_path / "model.pt")


_DATA = ([np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64)])
_BATCH = (torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))
YES_NO_ARGUMENTS = {  # below the boundary a yes/no argument is a bool: text is refused, never guessed
    "shuffle": lambda v, _: DataSet(_DATA, batch_size=2, shuffle=v),
    "drop_last": lambda v, _: DataSet(_DATA, batch_size=2, drop_last=v),
    "download": lambda v, tmp: load_cifar10("train", root=tmp / "empty", download=v),
    "cuda": lambda v, _: select_device(v),
    "mirror": lambda v, _: CNN().predict(_BATCH, mirror=v),
    "with_history": lambda v, tmp: CNN().load(_saved_model(tmp), with_history=v),
    "bfloat16": lambda v, _: FastNet(widths=(8, 16, 16), bfloat16=v),
    "nesterov": lambda v, _: Muon([torch.nn.Parameter(torch.zeros(4, 4))], nesterov=v),
    "orthogonalise": lambda v, _: Muon([{"params": [torch.nn.Parameter(torch.zeros(4, 4))], "orthogonalise": v}]),
    "normalize": lambda v, _: plot_confusion_matrix(torch.eye(2, dtype=torch.long), ["a", "b"], normalize=v),
    "restore_best": lambda v, _: EarlyStopping(restore_best=v),
}


@pytest.mark.parametrize("name", YES_NO_ARGUMENTS)
def test_a_yes_no_argument_given_as_text_is_refused_in_one_line(name, tmp_path):
    for text in ("false", "True"):
        with pytest.raises(ValueError, match=rf"^{name}='{text}' must be True or False; .*notebook_setup") as error:
            YES_NO_ARGUMENTS[name](text, tmp_path)
        assert "\n" not in str(error.value)
    for value in (False, np.bool_(False), torch.tensor(False)):  # what comparisons give is a bool too
        try:
            YES_NO_ARGUMENTS[name](value, tmp_path)
        except ValueError as error:
            assert f"{name}=" not in str(error), error
        except FileNotFoundError:  # load_cifar10 of an empty folder without download: as it should
            pass


def test_notebook_setup_checks_resolves_and_applies_the_quick_profile(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_loading.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("CIFAR_QUICK", "0")
    namespace = {"data_dir": "data", "run_dir": "runs/lesson", "source": "auto", "max_epochs": "10", "cuda": "false"}
    notebook_setup(namespace)
    assert {k: str(v) for k, v in namespace.items()} == {
        "data_dir": "../data", "run_dir": "../runs/lesson", "source": "auto", "max_epochs": "10", "cuda": "False"}
    assert namespace["max_epochs"] == 10 and namespace["cuda"] is False
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("CIFAR_QUICK", "1")
    quick = {"data_dir": "data", "run_dir": "runs/lesson", "source": "auto", "max_epochs": 10}
    notebook_setup(quick)
    assert (quick["source"], str(quick["run_dir"]), quick["max_epochs"]) == ("synthetic", "../runs/quick", 2)
    assert "QUICK PROFILE" in capsys.readouterr().out
    one_epoch = {"max_epochs": 1}
    notebook_setup(one_epoch)
    assert one_epoch["max_epochs"] == 1  # the quick profile only ever lowers the number of epochs
    skip = {"ablation_epochs": 0, "epochs": 10}
    notebook_setup(skip)
    assert skip == {"ablation_epochs": 0, "epochs": 1}, "0 (skip the short runs) stays 0"


def test_argument_type_gives_the_checks_value_and_its_message_as_argparses_one_line_error(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--runs", type=argument_type(whole_number, "--runs", 5))
    parser.add_argument("--rate", type=argument_type(real_number, "--rate", 0.1, low=0, low_open=True))
    assert vars(parser.parse_args(["--runs", "3", "--rate", "0.5"])) == {"runs": 3, "rate": 0.5}
    with pytest.raises(SystemExit):
        parser.parse_args(["--runs", "0"])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "tool: error: argument --runs: --runs=0 must be a positive whole number, such as 5.")
