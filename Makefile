# DRP Portal. Two commands do everything from a fresh clone:
#   make demo   installs, builds the schema, loads the demo channel, serves http://127.0.0.1:5000
#   make test   installs and runs the whole test suite (SQLite; set TEST_DATABASE_URL / TEST_REDIS_URL for
#               PostgreSQL and Redis, as .ci/run does)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install demo serve test test-fast lint audit browser fonts clean bench mutation

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and a CJK font, for the browser tests and screenshots (never a downloaded browser); poppler-utils
# (pdftoppm) to look at the PDFs the portal makes.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk'; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian chromium, fonts-wqy-microhei and poppler-utils"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei poppler-utils >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install chromium fonts-wqy-microhei poppler-utils' (browser tests will fail)"; fi; \
	fi

# The CJK TrueType font embedded in the PDFs (statements, delivery notes): Debian's WenQuanYi Micro Hei (Apache-2.0 /
# GPLv3), unless PORTAL_PDF_FONT names another .ttf/.ttc.
fonts:
	@if [ -z "$$PORTAL_PDF_FONT" ] && [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing fonts-wqy-microhei (the PDF font)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "the PDF font is missing: run 'sudo apt-get install fonts-wqy-microhei' or set PORTAL_PDF_FONT"; fi; \
	fi

demo: install fonts
	$(BIN)/flask --app portal db upgrade
	$(BIN)/flask --app portal demo
	@echo "Serving the portal at http://$(HOST):$(PORT) with Flask's development server (Ctrl-C stops it; production runs gunicorn: docs/DEPLOYMENT.md)"
	$(BIN)/flask --app portal run --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/flask --app portal db upgrade
	$(BIN)/flask --app portal run --host $(HOST) --port $(PORT)

# One pytest worker per core (TEST_WORKERS=1 for a single process); a module's tests stay on one worker (its
# module-scoped fixtures are built once), and each worker has a database of its own (tests/conftest.py).
TEST_WORKERS ?= auto

test: install fonts browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -m "not e2e" -x -q

lint: install
	$(BIN)/ruff check .

# Security scan of the code (bandit: only findings not already justified in docs/SECURITY.md, whose accepted ones are
# in docs/bandit-baseline.json) and of the pinned dependencies (pip-audit; --strict fails when a package could not be
# checked, e.g. without access to the vulnerability service). Not part of `make test`.
audit: install
	$(BIN)/bandit -q -r portal -b docs/bandit-baseline.json
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

# Benchmarks on PostgreSQL (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/bench); see bench/README.md
bench: install
	$(BIN)/python -m bench

# Mutation testing of the money and tenancy modules (mutmut; docs/MUTATION.md). Slow (tens of minutes): not part
# of `make test`. MODULES="credit_reports pricing" runs some of them; `.venv/bin/python scripts/mutation.py --list`.
mutation: install
	$(BIN)/python scripts/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache test-artifacts .mutation
