# netwatch: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Re-install only when the project's dependencies change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEB_PACKAGES := chromium-headless-shell fonts-wqy-zenhei
# Only the tests need these: LibreOffice opens exports as an analyst's spreadsheet would; poppler-utils
# (pdftotext, pdftoppm) reads and renders the nightly report's PDF.
TEST_DEB_PACKAGES := libreoffice-calc-nogui poppler-utils
# The second real shop engine of tests/test_real_shops_evershop.py: EverShop from npm, installed from the lock
# file and built when npm is there and the lock changed (tests fail under NETWATCH_REQUIRE_SERVICES=1 without it).
EVERSHOP := fixtures/evershop_shop
EVERSHOP_STAMP := $(EVERSHOP)/node_modules/.built-$(shell cat $(EVERSHOP)/package-lock.json | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench install system-deps evershop clean

demo: install
	$(BIN)/netwatch demo

test: install evershop
	@$(MAKE) --no-print-directory system-deps DEB_PACKAGES="$(TEST_DEB_PACKAGES)"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The layer contract (pyproject's [tool.importlinter]) and ruff; CI runs it before the tests.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check netwatch tests bench fixtures

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

install: system-deps $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Debian packages: the headless browser for JavaScript pages and a CJK font for screenshots.
# Installed when missing and possible (root with apt-get); otherwise says what to install.
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "netwatch needs these Debian packages; please run:  sudo apt-get install$$missing"; \
	  fi; \
	fi

evershop:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(EVERSHOP_STAMP); \
	else echo "npm is not installed: the EverShop tests will skip (or fail under NETWATCH_REQUIRE_SERVICES=1)"; fi

# npm ci installs exactly the lock file's versions; `evershop build` compiles the default theme (no database needed).
$(EVERSHOP_STAMP): $(EVERSHOP)/package-lock.json $(EVERSHOP)/package.json
	cd $(EVERSHOP) && npm ci --no-audit --no-fund --loglevel=error && SUPPRESS_NO_CONFIG_WARNING=1 npx --no-install evershop build
	rm -f $(EVERSHOP)/node_modules/.built-*
	touch $@

clean:
	rm -rf $(VENV) netwatch.db netwatch.db-* out $(EVERSHOP)/node_modules $(EVERSHOP)/.evershop
