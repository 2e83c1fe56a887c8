# Two entry points for a fresh clone on a machine with Python 3.11+ (see README):
#   make report   set up .venv if needed, then build reports/ from the demo dataset
#   make test     set up .venv if needed, then run every test
# Both are idempotent: the environment is reinstalled only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.kiemnhiem-installed

.PHONY: setup report test lint clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# The kernel papermill starts must be this environment's Python.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

report: setup
	$(BIN)/kiemnhiem run --out reports

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check kiemnhiem tests

clean:
	rm -rf reports build dist .pytest_cache
