# afbms: one-command set-up, tests and static checks (GNU make).
#
#   make setup      .venv (Python >= 3.11) with `pip install -e '.[dev]'`, `npm ci`,
#                   MicroPython port stubs in typings/rp2 and typings/esp32
#   make test       the fast tests: pytest -m "not slow"   (extra args: PYTEST_ARGS=...)
#   make test-all   every test, slow ones included
#   make test-slow  only the tests marked slow
#   make lint       ruff check (firmware/ruff.toml adds the MicroPython import bans)
#   make typecheck  pyright on firmware/ against the rp2 and the esp32 stubs
#   make mpy        compile every firmware file with the real mpy-cross
#   make bench      run every bench/bench_*.py
#   make run        the demo (`afbms demo`)
#   make check      lint + typecheck + mpy + test (what CI runs, less the slow tests)
#   make clean      remove build output and caches (not .venv, node_modules, typings)
#   make distclean  clean, and remove .venv, node_modules, typings and the stamps too
#
# Set-up is idempotent: stamps in .make/ record what was installed, and are
# out of date only when pyproject.toml, package.json/package-lock.json or the
# stub version change, or when what they stand for has been deleted.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

# The interpreter the venv is made from: python3.11 if there is one, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
VPY := $(VENV)/bin/python
STAMPS := .make
PYRIGHT := node_modules/.bin/pyright
PYTEST_ARGS ?=

# MicroPython stubs for pyright, one folder per port (see pyrightconfig.json and
# pyright-esp32.json). typings/novenv is an empty fake venv: pointing pyright at
# it keeps CPython's own site-packages out of the firmware check.
PORTS := rp2 esp32
STUBS_VERSION := 1.29.0.post1
NOVENV_SITE := typings/novenv/lib/python3.8/site-packages

export PIP_DISABLE_PIP_VERSION_CHECK := 1

# A target listed after FORCE is always out of date.
FORCE:
.PHONY: FORCE help setup test test-all test-slow lint typecheck mpy bench run check clean distclean

help:
	@sed -n '/^#   make /,/^#$$/{/^#$$/d;s/^#   //;p}' $(firstword $(MAKEFILE_LIST))

# ---------------------------------------------------------------- set-up

setup: $(STAMPS)/venv.stamp $(STAMPS)/npm.stamp \
       $(foreach p,$(PORTS),$(STAMPS)/typings-$(p)-$(STUBS_VERSION).stamp) $(NOVENV_SITE)

$(STAMPS):
	@mkdir -p $@

# Python >= 3.11 is required (pyproject.toml: requires-python).
define check_python
	@if [ -z "$(1)" ]; then \
	  echo "error: no python3.11 or python3 found on PATH; afbms needs Python >= 3.11" >&2; exit 1; fi
	@$(1) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(1) is Python $$($(1) -c 'import platform; print(platform.python_version())'); afbms needs Python >= 3.11." >&2; \
	  echo "       Install python3.11 or run: make setup PYTHON=/path/to/python3.11" >&2; exit 1; }
endef

$(STAMPS)/venv.stamp: pyproject.toml $(if $(wildcard $(VPY)),,FORCE) | $(STAMPS)
	$(call check_python,$(PYTHON))
	@if [ -x $(VPY) ] && ! $(VPY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  echo "$(VENV) is older than Python 3.11 (or broken): making it anew"; rm -rf $(VENV); fi
	@if [ ! -x $(VPY) ]; then \
	  echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import platform; print(platform.python_version())'))"; \
	  $(PYTHON) -m venv $(VENV); fi
	$(VPY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(STAMPS)/npm.stamp: package.json package-lock.json $(if $(wildcard node_modules/.package-lock.json),,FORCE) | $(STAMPS)
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js >= 20 with npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# One rule per port: typings/<port> holds micropython-<port>-stubs and the
# micropython-stdlib-stubs it depends on (stdlib/ is pyright's typeshed there).
define stubs_rule
$(STAMPS)/typings-$(1)-$(STUBS_VERSION).stamp: $(if $(wildcard typings/$(1)/micropython.pyi),,FORCE) | $(STAMPS)/venv.stamp
	rm -rf typings/$(1)
	$(VPY) -m pip install --quiet --no-compile --target typings/$(1) micropython-$(1)-stubs==$(STUBS_VERSION)
	@rm -f $(STAMPS)/typings-$(1)-*.stamp
	@touch $$@
endef
$(foreach p,$(PORTS),$(eval $(call stubs_rule,$(p))))

$(NOVENV_SITE):
	@mkdir -p $@

# ---------------------------------------------------------------- tests

# pytest's exit code 5 means "no tests collected/run". The project has tests,
# so for `test` and `test-all` that means something is broken: fail loudly.
define run_pytest
	@rc=0; $(VPY) -m pytest $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then \
	  echo "error: pytest ran no tests (exit 5). Tests exist, so collection is broken" \
	       "(wrong -m/-k/PYTEST_ARGS, an import error, or a missing tests/ tree)." >&2; fi; \
	exit $$rc
endef

test: setup
	$(call run_pytest,-m "not slow")

test-all: setup
	$(call run_pytest,)

# Only the slow tests. Having none marked slow is not an error (pytest says
# "N deselected"); collecting nothing at all is.
test-slow: setup
	@mkdir -p out
	@rc=0; $(VPY) -m pytest -m slow $(PYTEST_ARGS) 2>&1 | tee out/pytest-slow.log || rc=$$?; \
	if [ $$rc -eq 5 ]; then \
	  if grep -q ' deselected' out/pytest-slow.log; then \
	    echo "note: no test is marked slow; nothing to run"; rc=0; \
	  else \
	    echo "error: pytest collected no tests at all (exit 5): collection is broken" >&2; fi; fi; \
	exit $$rc

# ---------------------------------------------------------------- static checks

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(PYRIGHT) -p pyrightconfig.json
	$(PYRIGHT) -p pyright-esp32.json

mpy: setup
	$(VPY) -m afbms.fwbuild

check: lint typecheck mpy test

# ---------------------------------------------------------------- running

bench: setup
	@set -- bench/bench_*.py; \
	if [ ! -e "$$1" ]; then echo "no bench/bench_*.py yet"; exit 0; fi; \
	for f in "$$@"; do echo "== $$f"; $(VPY) "$$f"; done

run: setup
	$(VENV)/bin/afbms demo

# ---------------------------------------------------------------- cleaning

clean:
	rm -rf build dist out .pytest_cache .ruff_cache .hypothesis *.egg-info
	find . -path ./.venv -prune -o -path ./node_modules -prune -o \
	  \( -name __pycache__ -o -name '*.mpy' \) -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) node_modules typings $(STAMPS)
