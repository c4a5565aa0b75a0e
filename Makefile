# Rempart: two commands do all set-up on a fresh machine.
#   make demo   builds the environment and runs a demo scan on bundled sample images
#   make test   builds the environment and runs the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint bench bench-perception clean postgres chromium node hashpage caddy

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Her hashing page (src/rempart/web/hashpage) is plain JavaScript with a few npm packages
# pinned in package-lock.json, bundled at build time into one HTML file (never a CDN).
# Node.js and npm come from Debian when missing.
HASHPAGE_JS := $(wildcard src/rempart/web/hashpage/js/*.js) src/rempart/web/hashpage/build.mjs
HASHPAGE    := src/rempart/web/hashpage/dist/.built

node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "Installing Node.js (Debian packages nodejs, npm) to build the hashing page..."; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null || \
	  { echo "error: could not install Node.js; the hashing page cannot be built" >&2; exit 1; }; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	@$(MAKE) --no-print-directory node
	npm ci --no-audit --no-fund --loglevel=error

$(HASHPAGE): node_modules/.package-lock.json $(HASHPAGE_JS)
	npm run --silent build
	touch $(HASHPAGE)

hashpage: $(HASHPAGE)

# The tests start their own PostgreSQL server (tests/postgres.py) from Debian's package:
# installed here when missing (as root, or through sudo), quietly; nothing if present.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "Installing PostgreSQL (Debian package postgresql) for the tests..."; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null || \
	  { echo "error: could not install PostgreSQL; the PostgreSQL tests will fail" >&2; exit 1; }; \
	fi

# The web UI's browser tests (tests/web) drive Debian's chromium through Playwright (never a
# browser download): installed here when missing, with a Korean font for the screenshots.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/nanum ]; then \
	  echo "Installing Chromium (Debian package chromium) for the browser tests..."; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-nanum >/dev/null || \
	  { echo "error: could not install chromium; the browser tests will fail" >&2; exit 1; }; \
	fi

# The deployment test (tests/deploy) puts Debian's caddy, with its internal CA, in front of
# `rempart serve` and trusts that CA in chromium's NSS database (certutil, libnss3-tools):
# both installed here when missing. Debian starts no caddy service where policy-rc.d
# forbids it; elsewhere the package's own caddy.service is stopped and disabled again (the
# test runs its own).
caddy:
	@if ! command -v caddy >/dev/null 2>&1 || ! command -v certutil >/dev/null 2>&1; then \
	  echo "Installing Caddy (Debian packages caddy, libnss3-tools) for the deployment test..."; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  had_caddy=$$(command -v caddy || true); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq caddy libnss3-tools >/dev/null || \
	  { echo "error: could not install caddy; the deployment test will fail" >&2; exit 1; }; \
	  if [ -z "$$had_caddy" ] && command -v systemctl >/dev/null 2>&1; then \
	    $$SUDO systemctl disable --now caddy.service >/dev/null 2>&1 || true; \
	  fi; \
	fi

# pytest runs the files on TEST_WORKERS processes (pytest-xdist; default: one per core, at
# least 2: many tests wait on servers, chromium or PostgreSQL), each file whole on one worker
# (tests/conftest.py keeps the workers' servers, databases and folders apart).
# TEST_WORKERS=0 runs them in this process, one after the other.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -ge 2 ] && echo $$n || echo 2)
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP) $(HASHPAGE) postgres chromium caddy
	$(PY) -m ruff check src tests bench demo
	$(PY) -m ruff format --check src tests bench demo
	$(PY) -m mypy
	$(PYTEST)

# For iteration only (make test stays the gate): pytest alone, no lint or type check, the
# tests that failed last time first, stopping at the first failure.
# ARGS picks tests: make test-fast ARGS=tests/cases
test-fast: $(STAMP) $(HASHPAGE)
	$(PYTEST) --failed-first -x -q $(ARGS)

demo: $(STAMP) $(HASHPAGE) chromium
	$(VENV)/bin/python demo/run_demo.py

# Thorn's perception (for bench/robustness.py) needs rich < 14: it gets its own environment.
PERCEPTION := bench/.venv-perception

bench-perception:
	@[ -f $(PERCEPTION)/.stamp ] || { $(PYTHON) -m venv $(PERCEPTION) && \
	  $(PERCEPTION)/bin/pip install --quiet -c bench/perception-constraints.txt perception && \
	  touch $(PERCEPTION)/.stamp; } || \
	  echo "perception could not be installed: bench/robustness.py runs without it"

bench: $(STAMP) bench-perception
	$(PY) bench/robustness.py $$([ -f $(PERCEPTION)/.stamp ] && \
	  echo --perception-python $(PERCEPTION)/bin/python)
	$(PY) bench/hash_bench.py
	$(PY) bench/index_bench.py
	$(PY) bench/video_bench.py
	$(PY) bench/face_bench.py
	$(PY) bench/scan_bench.py
	$(PY) bench/rooms_bench.py
	$(PY) bench/synthetic_bench.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info demo/out node_modules src/rempart/web/hashpage/dist
