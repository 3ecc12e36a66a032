# The README's commands. `make dev` runs the service; `make test` runs every check and test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test check lint format typecheck pytest openapi migrate sandbox bench mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/payments-service dev $(if $(PORT),--port $(PORT)) $(if $(SANDBOX_PORT),--sandbox-port $(SANDBOX_PORT))

test: check pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: $(STAMP)
	$(BIN)/payments-service openapi --output contract/openapi.json

migrate: $(STAMP)
	$(BIN)/payments-service migrate

sandbox: $(STAMP)
	$(BIN)/payments-service sandbox

bench: $(STAMP)
	$(BIN)/python -m bench.run

mutate: $(STAMP)
	$(BIN)/python -m mutation.run

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
