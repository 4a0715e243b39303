# normbook: `make book` builds the site, `make test` runs every check.
# Both create .venv and install requirements.txt + normhelpers on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
NOTEBOOKS ?= $(sort $(wildcard book/*.ipynb))
BOOK_DIR  ?= .
# one thread per kernel keeps CPU results and timings reproducible on small machines
export OMP_NUM_THREADS ?= 2
export PYTHONHASHSEED := 0

.PHONY: help setup book test lint unit nbval strict-book browser browser-deps notebooks lab serve bench clean

help:
	@echo "make book       build the website into _build/html"
	@echo "make test       ruff, pytest, nbval on every notebook, strict book build, browser test"
	@echo "make notebooks  re-execute every notebook in place (the only way outputs are made)"
	@echo "make lab        JupyterLab on the book"
	@echo "make serve      serve _build/html on http://127.0.0.1:8000"
	@echo "make bench      time the norms against a plain copy (see the cost chapter)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build .
	@echo
	@echo "The book is in _build/html. Open _build/html/index.html in a browser,"
	@echo "or run 'make serve' and visit http://127.0.0.1:8000"

lint: $(STAMP)
	$(BIN)/ruff check normhelpers tests

unit: $(STAMP)
	$(PY) -m pytest tests/ -p no:cacheprovider -p no:nbval --ignore=tests/browser

nbval: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS)

strict-book: $(STAMP)
	$(BIN)/jupyter-book build $(BOOK_DIR) -W -n --keep-going

# Debian's Chromium for the browser test (never a browser downloaded by a test tool),
# and a CJK font so that the glossary's Chinese terms render in screenshots.
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  echo "installing Debian's $(BROWSER_PACKAGES) for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	fi

browser: $(STAMP) browser-deps
	$(PY) -m pytest tests/browser -p no:cacheprovider

test: lint unit nbval strict-book browser

notebooks: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 "$$nb" || exit 1; \
	done

# On a GPU machine: make bench BENCH_ARGS="--device cuda --dtype float32 bfloat16 --size large \
#   --csv book/data/bench_gpu.csv", commit the CSV and re-execute book/16_cost.ipynb.
BENCH_ARGS ?= --device cpu --dtype float32 --size large --repeats 10 --csv _build/bench_cpu.csv
bench: $(STAMP)
	@mkdir -p _build
	$(PY) -m normhelpers.bench $(BENCH_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab book/

serve:
	@test -d _build/html || { echo "run 'make book' first"; exit 1; }
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
