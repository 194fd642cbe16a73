# make demo: install into .venv and run the recipe on real images.   make test: install and run every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tetsuban
SHARED_DATASETS := $(abspath ../shared/datasets)
# Tests and benchmarks read real datasets: ../shared/datasets where it exists, else a cache filled from the registries.
DATASETS ?= $(if $(wildcard $(SHARED_DATASETS)/emoji-google/64),$(SHARED_DATASETS),$(CACHE)/datasets)

export TETSUBAN_DATASETS := $(DATASETS)
# Caches that outlive a clone: mypy's (it rechecks what changed: 85 s cold, 2-6 s warm from
# another clone), and the tests' exported default backbone (30 s of a core on every run otherwise), kept under a key
# of the code and the pins that make it, so that a change to either exports it anew.
export MYPY_CACHE_DIR := $(CACHE)/mypy
EXPORT_KEY := $(shell cat constraints.txt src/tetsuban/backbones/*.py 2>/dev/null | sha256sum | cut -c1-16)
export TETSUBAN_TEST_CACHE ?= $(CACHE)/test-cache/$(EXPORT_KEY)
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Test processes (pytest-xdist); each test file runs whole in one of them. On 2 cores two took the suite from
# 1,348 s to 913 s (2026-12-01).
TEST_WORKERS ?= 2

.PHONY: install datasets lint test test-fast demo bench mutation screenshots clean

# scripts/install.py installs with uv (80 s here against pip's 265 s), with pip's own settings (indexes,
# find-links, constraints) handed over, and falls back to pip; either compiles every module to bytecode.
$(VENV)/.installed: pyproject.toml constraints.txt scripts/install.py
	$(PYTHON) scripts/install.py $(VENV) dev
	touch $@

# The browser runtime the web export copies into every site (npm's onnxruntime-web), beside the environment.
install: $(VENV)/.installed
	scripts/fetch-onnxruntime-web.sh "$$($(VENV)/bin/python -c 'from tetsuban.deploy.web import runtime_folder; print(runtime_folder())')"

datasets:
	@test -d "$(DATASETS)/emoji-google/64" -a -d "$(DATASETS)/fashion-mnist" -a -d "$(DATASETS)/photos" \
		|| PYTHON=$(PYTHON) scripts/fetch-datasets.sh "$(DATASETS)"

lint: install
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy

# --no-loadscope-reorder: hand out the files in collection order (tests/conftest.py puts the files with slow tests
# first); pytest-xdist's default order, most tests first, left the one-test files of a minute (the demo, the
# newcomer) to the end, where one worker ran them while the other had nothing left.
test: install datasets lint
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

test-fast: install datasets
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow"

# Mutation testing (not part of make test; about an hour on 2 cores): mutmut changes the modules listed under
# [tool.mutmut] in pyproject.toml one change at a time and runs their fast tests; bench/mutation.py writes
# bench/results/mutation.md and fails while a surviving change is neither killed by a test nor explained in
# bench/mutation_triage.toml.
mutation: install datasets
	$(PYTHON) scripts/install.py $(VENV) dev,mutation
	$(VENV)/bin/python bench/mutation.py

# The labeling page's pictures in docs/, taken by the browser tests (which otherwise write them to a temp folder).
screenshots: install datasets
	TETSUBAN_SCREENSHOTS=$(abspath docs) $(VENV)/bin/python -m pytest tests/server/test_browser.py tests/server/test_newcomer.py -k "keyboard or grid_labels or newcomer"

demo: install
	scripts/demo.sh

bench: install datasets
	$(PYTHON) scripts/install.py $(VENV) dev,bench
	$(VENV)/bin/python bench/import_speed.py
	$(VENV)/bin/python -W ignore bench/augment_speed.py
	$(VENV)/bin/python -W ignore bench/embed_speed.py
	$(VENV)/bin/python -W ignore bench/probe_accuracy.py
	$(VENV)/bin/python -W ignore bench/survey_speed.py
	$(VENV)/bin/python -W ignore bench/lookalike_study.py
	$(VENV)/bin/python -W ignore bench/recolour_study.py
	$(VENV)/bin/python -W ignore bench/active_sim.py
	$(VENV)/bin/python -W ignore bench/active_speed.py
	$(VENV)/bin/python -W ignore bench/confident_learning.py
	$(VENV)/bin/python -W ignore bench/finetune.py
	$(VENV)/bin/python -W ignore bench/server_latency.py
	$(VENV)/bin/python -W ignore bench/keypress_latency.py

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis mutants
