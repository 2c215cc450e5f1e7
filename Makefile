# koopbench: `make run` sets up and runs the default suite; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUITE ?= suites/paper-yinyang.yaml

.PHONY: setup run test clean

$(BIN)/koopbench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/koopbench

setup: $(BIN)/koopbench

# The tests also exercise the optional giotto-ph backend (AGPL-3: an extra, never a dependency).
$(VENV)/.giotto: $(BIN)/koopbench
	$(BIN)/pip install --quiet -e '.[test,giotto]'
	touch $(VENV)/.giotto

run: setup
	RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 $(BIN)/koopbench run $(SUITE)

test: setup $(VENV)/.giotto
	RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .koopbench-cache runs mlflow.db
