# make run   - the whole lesson, headless (notebooks 01-05 with papermill) into runs/lesson
# make test  - the whole test suite: unit tests, notebook runs, nbval over the committed notebooks
# make lab   - open the lesson in JupyterLab
# Each creates .venv and installs the project into it when that has not been done yet.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: install run test lab lint bench real-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	$(PY) -m cifar_helpers.run $(ARGS)

test: install
	$(PY) -m pytest

lab: install
	$(VENV)/bin/jupyter lab notebooks

lint: install
	$(PY) -m ruff check cifar_helpers tests benchmarks tools

bench: install
	$(PY) benchmarks/bench_training.py $(ARGS)

# The default lesson end to end on real CIFAR-10 (CI has a copy in ../shared/data).
REAL_DATA ?= ../shared/data
real-check: install
	$(PY) -m cifar_helpers.run --data-dir $(REAL_DATA) --source local --out runs/real-check --min-accuracy 0.58

clean:
	rm -rf runs notebooks/runs .pytest_cache
