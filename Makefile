# MCF: `make run` to try it, `make test` to prove it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format worker bench bench-quick clean

# The virtualenv is rebuilt whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Chromium for the browser journeys (tests/browser). Installed with apt where we are root (CI);
# elsewhere those tests skip with a message saying how to install it.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "Chromium is missing: 'sudo apt-get install chromium' to run the browser tests."; \
	fi

## Start everything (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set); Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/python scripts/dev.py run

## The whole test suite, on DATABASE_URL/REDIS_URL when set, embedded servers otherwise.
test: $(STAMP) | $(CHROMIUM)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## ruff, and the import contracts of pyproject.toml (the layering of ARCHITECTURE.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## A worker against the configured servers (make run starts one for you).
worker: $(STAMP)
	$(BIN)/python worker.py

## Every benchmark at full size (tens of minutes), then one summary table with ratios to baselines of the same run.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## Every benchmark at small sizes (well under two minutes): proves each still runs and prints its table.
bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
