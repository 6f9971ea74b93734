# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
.PHONY: demo test check lint typecheck imports bench setup-demo setup-test clean

VENV := .venv
PY := $(VENV)/bin/python

setup-demo:
	@scripts/setup.sh demo

setup-test:
	@scripts/setup.sh test

demo: setup-demo
	@$(VENV)/bin/madoguchi demo

test: setup-test
	@scripts/run-tests.sh

check: setup-test lint typecheck imports

lint:
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck:
	@$(VENV)/bin/mypy

imports:
	@$(VENV)/bin/lint-imports --no-cache

bench: setup-test
	@$(VENV)/bin/madoguchi bench call-setup --json --runs 10

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
