# Parley — `make run` serves on SQLite at http://127.0.0.1:8000, `make test` runs everything.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# Python 3.13 (Quart 0.23 needs it): $(PYTHON), python3.13 on PATH, pyenv's 3.13, or a clear error.
PYTHON ?= $(shell for p in "$$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13 python3.13; do \
	  if "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then command -v "$$p"; break; fi; done)

.PHONY: run test lint migrate css bench clean check-python

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python 3.13 not found. Install it (e.g. 'pyenv install 3.13') or run 'make PYTHON=/path/to/python3.13 ...'." >&2; \
	  exit 1; fi

# The venv is (re)built when pyproject.toml changes; the stamp records the last install.
$(VENV)/.installed: pyproject.toml | check-python
	@test -x $(PY) && $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
	  || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

migrate: $(VENV)/.installed
	$(PY) -m chat_app migrate

run: migrate
	$(PY) -m chat_app serve --port $(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check chat_app tests bench
	$(VENV)/bin/ruff format --check chat_app tests bench
	$(VENV)/bin/mypy chat_app

# SQLite, then PostgreSQL (skipped with a reason unless CHAT_REQUIRE_POSTGRES=1).
test: lint
	CHAT_TEST_DATABASE=sqlite $(PY) -m pytest
	CHAT_TEST_DATABASE=postgres $(PY) -m pytest

# The full benchmark (minutes; PostgreSQL on 127.0.0.1:5432): table on the terminal, JSON in
# bench/results/latest.json. Options: make bench BENCH_ARGS="--scenarios fanout --clients 500".
bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)

# Rebuilds static/css/app.css from the templates (needs npm; the app itself never does), and
# re-vendors htmx, its ws extension and axe-core (a test asset: the browser tests' audits).
css: $(VENV)/.installed
	npm ci --no-audit --no-fund
	$(PY) -c 'from chat_app.richtext import code_css; print(code_css(), end="")' > static/css/code.css
	./node_modules/.bin/tailwindcss -i static/css/input.css -o static/css/app.css --minify
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx-2.0.11.min.js
	cp node_modules/htmx-ext-ws/dist/ws.min.js static/vendor/htmx-ext-ws-2.0.4.min.js
	cp node_modules/axe-core/axe.min.js tests/e2e/assets/axe.min.js
	cp node_modules/axe-core/LICENSE tests/e2e/assets/axe-LICENSE.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
