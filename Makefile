# pix.immo — the two commands: `make run` and `make test`.
# Needs only Python 3.11+; everything else is installed into .tools/ (uv) and .venv/.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
CAPTION_WORKERS ?= 1
PORT_BASE ?= 8000
PACKAGES := -p pix_contracts -p pix_runtime -p pix_gateway -p pix_auth -p pix_orders \
	-p pix_media -p pix_captioning -p pix_export -p pix_notify -p pix_leads -p pix_listings \
	-p pix_billing -p pix_assistant -p pix_stack

export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint typecheck sync asyncapi clients topics faults chromium bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock contracts/pyproject.toml services/*/pyproject.toml deploy/pyproject.toml
	$(UV) sync --all-packages --frozen
	@touch $@

sync: .venv/.synced

run: sync
	$(UV) run --frozen pix-stack run --port-base $(PORT_BASE) --caption-workers $(CAPTION_WORKERS)

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: sync
	$(UV) run --frozen mypy $(PACKAGES)

test: lint typecheck chromium
	$(UV) run --frozen pytest

# Browser tests drive Debian's Chromium (Playwright cannot download a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests …"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it with 'sudo apt-get install -y chromium' (browser tests need /usr/bin/chromium)."; \
	    exit 1; \
	  fi; }

bench: sync
	PIX_BENCH=1 $(UV) run --frozen pytest tests/perf -s -q -p no:cacheprovider
	$(UV) run --frozen python tests/perf/caption_bench.py

asyncapi: sync
	$(UV) run --frozen pix-stack asyncapi write

# The gateway's typed models of the services' answers (pix_gateway/clients/*_models.py).
clients: sync
	$(UV) run --frozen python -m pix_stack.clients write

faults: sync
	PIX_FAULTS=1 $(UV) run --frozen pytest tests/e2e/test_faults.py -s -q -p no:cacheprovider

topics: sync
	$(UV) run --frozen pix-stack topics write

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
