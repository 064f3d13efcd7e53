# `make help` lists the targets. Everything runs inside .venv, created on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Yilian with its development tools

run: $(STAMP) ## Seed the demo alliance into ./var/yilian.db and serve the web UI and API on 127.0.0.1:8000
	YILIAN_DEMO=true $(BIN)/yilian demo
	YILIAN_DEMO=true $(BIN)/yilian serve --host 127.0.0.1 --port 8000

test: $(STAMP) ## Run the test suite (PostgreSQL too when YILIAN_TEST_POSTGRES_URL is set)
	$(BIN)/pytest

lint: $(STAMP) ## ruff and the import contracts
	$(BIN)/ruff check yilian tests bench
	$(BIN)/lint-imports

bench: $(STAMP) ## Run the benchmarks (print JSON; needs ../shared/data)
	$(BIN)/python -m bench.run

clean: ## Remove the virtual environment and the local database
	rm -rf $(VENV) var
