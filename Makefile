# Herald's commands. `make run` and `make test` are the two a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PACKAGES = herald streams connectors

.PHONY: install run test lint typecheck unit integration stack-up stack-down stack-status clean

$(BIN)/herald: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/herald

# The main job: the local stack, Herald's pipeline and a demo load, then a summary.
run: install
	$(BIN)/herald demo

# Everything CI runs: lint, types, unit and integration tests against the real services.
test: lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

stack-up: install
	$(BIN)/herald stack up

stack-down: install
	$(BIN)/herald stack down

stack-status: install
	$(BIN)/herald stack status

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
