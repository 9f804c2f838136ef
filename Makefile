# unionvote: the few verbs a newcomer needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup test lint bench bench-scale demo serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# npm ci installs the locked browser libraries (libsodium.js, axe-core); it downloads no
# browser: the browser tests use Debian's /usr/bin/chromium.
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy src/unionvote
	$(BIN)/lint-imports

# A quick pass of every benchmark (small sizes, nothing written; a few minutes).
bench: setup
	$(BIN)/python -m bench.run

# Every benchmark at the full sizes of issue 5 (hours; by hand); each appends to BENCHMARKS.md.
bench-scale: setup
	$(BIN)/python -m bench.run --scale

demo: setup
	$(BIN)/unionvote demo --out demo-out --replace

# The members' website over the demo's database (make demo first), as a local rehearsal
# over plain http (--dev: a random session secret, cookies without Secure).
serve: setup
	DATABASE_URL=sqlite:///$(CURDIR)/demo-out/unionvote.db $(BIN)/unionvote serve --dev

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache node_modules test-artifacts
