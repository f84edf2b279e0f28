# vsi-data: `make demo` and `make test` each set up .venv from nothing, then run.
# The install is skipped when .venv is complete and pyproject.toml has not changed since.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vsi-data-installed
DEMO_OUT ?= demo_out

.PHONY: install demo test test-fast lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@# open3d needs libusb at import time; install it when we can (root) and it is missing.
	@if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq libusb-1.0-0 >/dev/null)); \
	  else echo "warning: libusb-1.0-0 is missing; install it (apt-get install libusb-1.0-0) or open3d will not import" >&2; fi; \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned: an uncapped torch pulls several GB of CUDA wheels.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,train,ray]'
	@touch $(STAMP)

demo: install
	$(BIN)/vsi-data build --source synthetic --out $(DEMO_OUT) --scenes 4 --overwrite
	$(BIN)/vsi-data stats $(DEMO_OUT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q

# The quick tier while working: every test but those marked slow (end-to-end builds that render, training runs).
# CI runs `make test`, which runs them all.
test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
