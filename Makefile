# Zero-setup entry points. `make run` serves the API + dashboard; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

export PORT

.PHONY: install run test test-fast lint bench browser clean

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet -e ./client
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py serve --port $(PORT)

# ruff (the rule set in pyproject.toml) and mypy with django-stubs on the apps.
lint: $(STAMP)
	$(BIN)/ruff check .
	DATABASE_URL= ENV_FILE=none DATA_DIR=$${TMPDIR:-/tmp}/mcphub-lint $(BIN)/mypy

# The suite runs against PostgreSQL and Redis on this machine (DESIGN §4).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14
TEST_CACHE_URL ?= redis://127.0.0.1:6379/13

test: $(STAMP) browser
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_CACHE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	DEBUG=false SECRET_KEY=test-secret-key-not-for-production ENV_FILE=none \
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# Debian's Chromium for the browser tests (Playwright drives it through executable_path).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: browser tests will be skipped"; \
	  else echo "chromium is not installed (apt-get install chromium): browser tests will be skipped"; fi; }

# Renderer vs libx264 alone, then the API under wrk (skipped with a message when wrk is missing).
# bench/vendor_polling.py needs Redis and FLUSHES its database: run it by hand (see its docstring).
bench: $(STAMP)
	$(BIN)/python bench/render.py
	$(BIN)/python bench/api_poll.py

clean:
	rm -rf $(VENV) data staticfiles
