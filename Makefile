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
# Two threads by default (a 2-core laptop): CPU results and timings stay reproducible; each
# notebook's preamble fixes its own thread count inside the kernel as well.
export OMP_NUM_THREADS ?= 2
export PYTHONHASHSEED := 0
# torch.compile's on-disk kernel cache does not key on the CPU's vector width: a run with
# ATEN_CPU_CAPABILITY=default would load AVX-512 kernels. One cache per capability.
INDUCTOR_CACHE = $(CURDIR)/_build/inductor-$(1)
export TORCHINDUCTOR_CACHE_DIR ?= $(call INDUCTOR_CACHE,$(or $(ATEN_CPU_CAPABILITY),native))
# where the executing runs write their per-notebook times
TIMINGS       ?= book/_timings.json
NBVAL_TIMINGS ?= _build/nbval_timings.json
NBVAL_PORTABLE_TIMINGS ?= _build/nbval_timings_portable.json

.PHONY: help setup book test lint format typecheck unit doctest nbval nbval-portable nbval-matrix \
  strict-book browser browser-deps notebooks lab serve bench clean exercises tag-solutions \
  install-cells test-bare-env strict-book-bare-env nbval-portable-and-browser i18n-update \
  i18n-check strict-book-zh unit-and-builds strict-books compiler-warm-up

help:
	@echo "make book            build the website into _build/html (English) and _build/html/zh"
	@echo "make test            test-bare-env while .venv installs, lint, typecheck, nbval, unit"
	@echo "                     beside the strict builds of both editions and i18n-check,"
	@echo "                     nbval-portable beside browser"
	@echo "make lint            ruff check (normhelpers, tests, tools, notebooks), ruff format --check"
	@echo "make format          ruff format normhelpers tests tools (rewrites files)"
	@echo "make typecheck       mypy on normhelpers"
	@echo "make unit            pytest on normhelpers and the pipeline (no notebooks, no browser),"
	@echo "                     then make doctest"
	@echo "make doctest         run the examples (>>>) of normhelpers' docstrings"
	@echo "make nbval           re-run every notebook against its outputs, with time budgets"
	@echo "                     (per-notebook times in $(NBVAL_TIMINGS))"
	@echo "make compiler-warm-up"
	@echo "                     torch.compile once, so that Inductor's one-time probe of the CPU"
	@echo "                     is not in nbval's budgets (nbval and notebooks run it first)"
	@echo "make nbval-portable  the same with PyTorch's plain kernels and 4 threads, no budgets"
	@echo "make nbval-portable-and-browser"
	@echo "                     nbval-portable and browser side by side (as make test runs them)"
	@echo "make nbval-matrix    nbval for ATEN_CPU_CAPABILITY default/avx2/unset x 1/4 threads"
	@echo "make strict-book     build the book with warnings as errors"
	@echo "make strict-book-zh  the same for the Chinese edition (into _build/html/zh)"
	@echo "make i18n-update     re-extract the English messages, update locales/zh_CN (new, fuzzy)"
	@echo "make i18n-check      fail if a message of the Chinese edition is untranslated or fuzzy"
	@echo "make browser         browser tests of the built site and of a chapter in JupyterLab"
	@echo "                     (Debian/Ubuntu: installs Chromium if missing; elsewhere set CHROMIUM)"
	@echo "make browser-deps    Debian/Ubuntu only: apt-get install chromium and a CJK font"
	@echo "make test-bare-env   run a chapter in a fresh venv without normhelpers (its install cell)"
	@echo "make strict-book-bare-env  strict-books next to test-bare-env"
	@echo "make strict-books    strict-book and i18n-check beside strict-book-zh"
	@echo "make unit-and-builds unit beside strict-books (as make test runs them)"
	@echo "make exercises       write each chapter's exercise notebook into _build/exercises"
	@echo "make tag-solutions   tag the code cells of every solution 'solution' (rewrites chapters)"
	@echo "make install-cells   write the guarded install cell into every chapter (rewrites them)"
	@echo "make notebooks       re-execute every notebook in place (the only way outputs are made);"
	@echo "                     strips cell timestamps, writes $(TIMINGS)"
	@echo "make setup           create .venv, install everything, set up readable notebook diffs"
	@echo "make lab             JupyterLab on the book (MyST rendered by jupyterlab-myst)"
	@echo "make serve           serve _build/html on http://127.0.0.1:8000"
	@echo "make bench           time the norms against a plain copy (see the cost chapter)"
	@echo "make clean           remove _build"
	@echo "NOTEBOOKS=\"book/06_groupnorm.ipynb ...\" limits nbval*, notebooks to those notebooks"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# setup also makes `git diff` show notebooks as text (.gitattributes: *.ipynb diff=ipynb)
setup: $(STAMP)
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config diff.ipynb.textconv "python3 tools/nb_textconv.py" && \
	  echo "git diff shows notebooks as text (tools/nb_textconv.py)"; \
	fi

book: $(STAMP) exercises
	$(BIN)/jupyter-book build .
	$(PY) tools/i18n.py build
	@echo
	@echo "The book is in _build/html. Open _build/html/index.html in a browser,"
	@echo "or run 'make serve' and visit http://127.0.0.1:8000"

# notebooks: line length 88 and E402 allowed after the preamble (book/ruff.toml)
# every check runs (and reports) before lint fails
LINT_CHECKS := "ruff check normhelpers tests tools" "ruff check --line-length 100 book/_ext" \
  "ruff check $(NOTEBOOKS)" \
  "ruff format --check --output-format concise normhelpers tests tools"
lint: $(STAMP)
	@status=0; for check in $(LINT_CHECKS); do \
	  echo "$$check"; $(BIN)/$$check || status=1; \
	done; exit $$status

format: $(STAMP)
	$(BIN)/ruff format normhelpers tests tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/ -p no:cacheprovider -p no:nbval --ignore=tests/browser
	@$(MAKE) --no-print-directory doctest

# the examples of the docstrings, as shown on the API page (book/api.md)
doctest: $(STAMP)
	$(PY) -m pytest --doctest-modules normhelpers -p no:cacheprovider -p no:nbval -q

CHAPTERS := $(filter $(wildcard book/[0-9][0-9]_*.ipynb),$(NOTEBOOKS))
# exercise notebooks: each chapter without its solutions (the site builds its own copies)
exercises: $(STAMP)
	$(PY) tools/make_exercises.py --out _build/exercises $(CHAPTERS)

tag-solutions: $(STAMP)
	$(PY) tools/tag_solutions.py $(CHAPTERS)

install-cells: $(STAMP)
	$(PY) tools/add_install_cell.py $(CHAPTERS)

# a reader without this repository: fresh venv, runtime packages only, chapter copied outside,
# its install cell pointed at this checkout (NORMBOOK_INSTALL_SOURCE)
BARE_CHAPTER ?= book/06_groupnorm.ipynb
test-bare-env: $(STAMP)
	$(PY) tools/run_bare_env.py $(BARE_CHAPTER)

NBVAL := $(PY) -m pytest -p no:cacheprovider -p tests.nbval_budget --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg

# The first torch.compile with an empty Inductor cache probes the CPU's vector instructions
# (it compiles and loads a test program per instruction set), and the first one on a machine
# builds a precompiled header (kept under /tmp, outside the cache): 10 to 35 s here, once,
# which a reader pays once per machine. The budgets time the chapters, so nbval and notebooks
# compile once before they start (a few seconds when all is warm) when one of their notebooks
# compiles: a chapter that compiles asks bench.compiler_note first, as the cost chapter does.
COMPILING = $(shell grep -l compiler_note $(NOTEBOOKS) 2>/dev/null)
WARM_UP = $(if $(COMPILING),compiler-warm-up)
compiler-warm-up: $(STAMP)
	@mkdir -p $(TORCHINDUCTOR_CACHE_DIR)
	@$(PY) -c "from normhelpers import bench; print('torch.compile:', bench.compiler_note() or \
	  'works; Inductor cache warm')"

# budgets (tests/nbval_budget.py) are checked on this run, the one that executes the code
nbval: $(STAMP) $(WARM_UP)
	$(NBVAL) --nbval-timings $(NBVAL_TIMINGS) $(NOTEBOOKS)

# the outputs must not depend on the CPU's vector kernels or the thread count; plain kernels
# are slower, so this run records its times but checks no budget
nbval-portable: $(STAMP)
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=4 \
	  TORCHINDUCTOR_CACHE_DIR=$(call INDUCTOR_CACHE,default) \
	  $(NBVAL) --nbval-no-budget --nbval-timings $(NBVAL_PORTABLE_TIMINGS) $(NOTEBOOKS)

# every combination, one after the other (about 1.5 min each); not part of `make test`
nbval-matrix: $(STAMP)
	@failed=""; \
	for cap in default avx2 unset; do for threads in 1 4; do \
	  echo "=== nbval: ATEN_CPU_CAPABILITY=$$cap OMP_NUM_THREADS=$$threads ==="; \
	  if [ $$cap = unset ]; then envcap="-u ATEN_CPU_CAPABILITY"; \
	  else envcap="ATEN_CPU_CAPABILITY=$$cap"; fi; \
	  env $$envcap OMP_NUM_THREADS=$$threads \
	    TORCHINDUCTOR_CACHE_DIR=$(call INDUCTOR_CACHE,$$cap) $(NBVAL) --nbval-no-budget \
	    --nbval-timings _build/nbval_timings_$${cap}_$${threads}.json $(NOTEBOOKS) \
	    || failed="$$failed $$cap/$$threads"; \
	done; done; \
	if [ -n "$$failed" ]; then echo "nbval-matrix failed for (capability/threads):$$failed"; \
	  exit 1; fi; echo "nbval-matrix: all 6 combinations passed"

strict-book: $(STAMP)
	$(BIN)/jupyter-book build $(BOOK_DIR) -W -n --keep-going

# the Chinese edition (CONTRIBUTING.md, "The Chinese edition"): locales/zh_CN holds one gettext
# catalog per page; the check fails on an untranslated, fuzzy, missing or stale message
i18n-update: $(STAMP)
	$(PY) tools/i18n.py update

i18n-check: $(STAMP)
	$(PY) tools/i18n.py check

strict-book-zh: $(STAMP)
	$(PY) tools/i18n.py build -W

# Debian's Chromium for the browser test (never a browser downloaded by a test tool),
# and a CJK font so that the glossary's Chinese terms render in screenshots.
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
# Elsewhere (macOS, Windows, other Linux) the test uses an installed Chromium or Chrome
# (tests/browser/chromium.py: CHROMIUM=path, or the usual paths) and says what to install.
browser-deps:
	@if [ -n "$$CHROMIUM" ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser test: no apt-get here (or CHROMIUM set), using an installed Chromium/Chrome"; \
	elif ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  echo "installing Debian's $(BROWSER_PACKAGES) for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	fi

browser: $(STAMP) browser-deps
	$(PY) -m pytest tests/browser -p no:cacheprovider

# the strict builds: the English one followed by the catalogs' check, and beside them the
# Chinese edition (its own folder; about a minute, most of it parsing translations)
strict-books: $(STAMP)
	@mkdir -p _build
	@$(PY) tools/i18n.py build -W >_build/book_zh.log 2>&1 & zh=$$!; \
	$(BIN)/jupyter-book build $(BOOK_DIR) -W -n --keep-going; book=$$?; \
	$(PY) tools/i18n.py check; check=$$?; \
	wait $$zh; zh_status=$$?; echo "strict-book-zh:"; \
	if [ $$zh_status = 0 ]; then tail -n 3 _build/book_zh.log; else cat _build/book_zh.log; fi; \
	[ $$book = 0 ] && [ $$check = 0 ] && [ $$zh_status = 0 ]

# the bare-environment run mostly waits on pip and the disk (about 45 s of CPU in 3 minutes), so
# it runs next to the strict builds; each one's output is shown, all must pass
strict-book-bare-env: $(STAMP)
	@mkdir -p _build
	@$(PY) tools/run_bare_env.py $(BARE_CHAPTER) >_build/bare_env.log 2>&1 & bare=$$!; \
	$(MAKE) --no-print-directory strict-books; books=$$?; \
	wait $$bare; bare_status=$$?; echo "test-bare-env:"; cat _build/bare_env.log; \
	[ $$books = 0 ] && [ $$bare_status = 0 ]

# the portable nbval run (no time budgets) and the browser tests side by side: they use
# different resources (a kernel each; Chromium), and together they take as long as one of them
nbval-portable-and-browser: $(STAMP)
	@mkdir -p _build
	@$(MAKE) --no-print-directory nbval-portable >_build/nbval_portable.log 2>&1 & portable=$$!; \
	$(MAKE) --no-print-directory browser; browser=$$?; \
	wait $$portable; portable_status=$$?; echo "nbval-portable:"; \
	if [ $$portable_status = 0 ]; then tail -n 3 _build/nbval_portable.log; \
	else cat _build/nbval_portable.log; fi; \
	[ $$browser = 0 ] && [ $$portable_status = 0 ]

# the unit tests (one core, about 2 minutes) beside the strict builds; each one's output is shown
unit-and-builds: $(STAMP)
	@mkdir -p _build
	@$(MAKE) --no-print-directory unit >_build/unit.log 2>&1 & unit=$$!; \
	$(MAKE) --no-print-directory strict-books; builds=$$?; \
	wait $$unit; unit_status=$$?; echo "unit:"; \
	if [ $$unit_status = 0 ]; then grep -E "passed|failed" _build/unit.log; \
	else cat _build/unit.log; fi; \
	[ $$builds = 0 ] && [ $$unit_status = 0 ]

# The run of a chapter in a bare environment needs only the standard library and makes its own
# venv, so it runs while .venv is installed (both mostly wait on pip); it is over before nbval,
# whose time budgets must not share the cores. Then lint, typecheck and the compiler's warm-up
# (fast), nbval alone, the unit tests beside the strict builds, and the portable nbval run beside
# the browser tests.
test:
	@mkdir -p _build
	@$(PYTHON) tools/run_bare_env.py $(BARE_CHAPTER) >_build/bare_env.log 2>&1 & bare=$$!; \
	$(MAKE) --no-print-directory lint typecheck compiler-warm-up; first=$$?; \
	wait $$bare; bare_status=$$?; echo "test-bare-env:"; cat _build/bare_env.log; \
	[ $$first = 0 ] && [ $$bare_status = 0 ] && \
	$(MAKE) --no-print-directory nbval unit-and-builds nbval-portable-and-browser

# each notebook in a fresh kernel, in place; no cell timestamps in the stored notebooks, the
# times go to $(TIMINGS) (read by the Environment page)
notebooks: $(STAMP) $(WARM_UP)
	$(PY) tools/run_notebooks.py --timeout 300 --timings $(TIMINGS) $(NOTEBOOKS)

# On a GPU machine: make bench BENCH_ARGS="--device cuda --dtype float32 bfloat16 --size large \
#   --csv book/data/bench_gpu.csv", commit the CSV and re-execute book/16_cost.ipynb.
# The cost chapter's CPU runs: book/data/bench_cpu_runs/runK.csv from the default BENCH_ARGS
# (--csv changed); its reference runs, book/data/bench_cpu_reference/runK.csv, from BENCH_ARGS="--ops
#   layer_norm rms_norm --impls torch scratch+compile compile --repeats 20 --csv <that path>".
BENCH_ARGS ?= --device cpu --dtype float32 --size large --repeats 10 --check-targets \
  --csv _build/bench_cpu.csv
bench: $(STAMP)
	@mkdir -p _build
	$(PY) -m normhelpers.bench $(BENCH_ARGS)

# --allow-root where it runs as root (a container)
lab: $(STAMP)
	$(BIN)/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) book/

serve:
	@test -d _build/html || { echo "run 'make book' first"; exit 1; }
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
