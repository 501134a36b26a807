# Herald's commands. `make run` and `make test` are the two a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install lock run test lint typecheck unit integration stack-up stack-down stack-status clean

# The exact versions of constraints.txt, so a new release changes nothing until `make lock`.
$(BIN)/herald: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/herald

# Update constraints.txt on purpose: the newest versions pyproject's bounds allow, resolved in
# a scratch environment. Review the diff, run `make test`, commit both.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable > constraints.txt
	rm -rf .lock-venv

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
	rm -rf $(VENV) .lock-venv .mypy_cache .pytest_cache .ruff_cache build dist
