"""The project's own files install it: pyproject.toml and environment.yml agree, and admit what is installed."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch", "python-build": "build"}  # conda-forge name -> PyPI name


def pip_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def conda_requirements():
    found, in_dependencies = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_dependencies = True
        elif in_dependencies and re.match(r"^  - [A-Za-z]", line) and not line.strip().startswith("- pip"):
            requirement = Requirement(line[4:].strip())
            found[CONDA_NAMES.get(requirement.name, requirement.name)] = requirement.specifier
    found.pop("python", None)
    return found


def test_environment_yml_asks_for_the_same_packages_and_versions_as_pyproject():
    conda = conda_requirements()
    assert conda == {r.name: r.specifier for r in pip_requirements()}
    assert re.search(r"^\s+- -e \.$", (ROOT / "environment.yml").read_text(), re.M), "it installs the package itself"


def test_the_installed_packages_satisfy_the_version_ranges():
    """The ranges must admit what this machine installs (torch 2.14.1 and torchvision 0.29.1 from its disk)."""
    for requirement in pip_requirements():
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), f"{requirement} vs installed {installed}"
