# The README's commands. `make setup` makes .venv (Python 3.10) from the lock file; nothing here
# runs pip's resolver.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON310 ?= $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'print(1)' >/dev/null 2>&1 && echo python3.10 || ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python 2>/dev/null | tail -n 1)
UV_VERSION := 0.13.9
PYTEST_ARGS ?=

.PHONY: setup test test-fast run benchmark lock clean

setup:
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (e.g. pyenv install 3.10) or pass PYTHON310=/path/to/python3.10"; exit 2; }
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python -r requirements/lock.txt
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .

test:
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast:
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

run:
	$(BIN)/sasrec run --output-dir output

# Training, serving and whole-pipeline figures beside the seed's implementation (about 15 min);
# writes benchmarks/results.json and the tables in benchmarks/README.md.
benchmark:
	benchmarks/peer/setup.sh
	$(BIN)/python benchmarks/run.py

# Re-resolve requirements/requirements.in into the fully pinned lock file.
lock:
	$(BIN)/uv pip compile --python-version 3.10 requirements/requirements.in -o requirements/lock.txt

clean:
	rm -rf $(VENV) output
