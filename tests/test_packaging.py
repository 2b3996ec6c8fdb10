"""The project's own files install and run it: pyproject, environment.yml, Makefile, CI, README."""

import re
import tomllib
from pathlib import Path

import cifar_helpers

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def requirement_name(text):
    return re.split(r"[<>=!~ \[;]", text.strip(), maxsplit=1)[0].lower()


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def conda_packages():
    names, in_dependencies = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_dependencies = True
        elif in_dependencies and re.match(r"^  - [A-Za-z]", line):
            name = requirement_name(line[4:])
            names.add(CONDA_NAMES.get(name, name))
    return names - {"python", "pip", "pip:"}


def test_environment_yml_and_pyproject_list_the_same_packages():
    project = pyproject()["project"]
    pip_names = {requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert conda_packages() == pip_names


def test_environment_yml_installs_the_package_itself():
    assert re.search(r"^\s+- -e \.$", (ROOT / "environment.yml").read_text(), re.M)


def test_version_ranges_admit_the_local_torch():
    requirements = {requirement_name(r): r for r in pyproject()["project"]["dependencies"]}
    for name, local in (("torch", (2, 14)), ("torchvision", (0, 29))):
        lower = re.search(r">=\s*(\d+)\.(\d+)", requirements[name])
        assert lower and tuple(map(int, lower.groups())) <= local
        upper = re.search(r"<=?\s*(\d+)\.(\d+)", requirements[name])
        assert upper is None or tuple(map(int, upper.groups())) >= local


def test_public_names_are_importable_from_the_package():
    for name in ("DataSet", "AsyncDataLoader", "Model", "StopTraining", "EarlyStopping", "PluginInterface",
                 "ProgressBar", "Logger", "Evaluator", "LivePlot", "accuracy", "load_cifar10", "CLASSES",
                 "CNN", "batch_to_tensors", "to_images", "confusion_matrix", "per_class_accuracy"):
        assert hasattr(cifar_helpers, name), name
    assert set(cifar_helpers.__all__) <= set(dir(cifar_helpers))


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_makefile_creates_the_venv_when_missing():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: install$", makefile, re.M) and re.search(r"^run: install$", makefile, re.M)
    assert "-m venv" in makefile and 'pip install --quiet -e ".[dev]"' in makefile
