# Two commands do everything on a fresh machine: `make book` and `make test`.
PYTHON_BASE ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# One environment for executing notebooks, for nbval and for the book: same threads, seeds, backend.
export OMP_NUM_THREADS := 2
export MKL_NUM_THREADS := 2
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1
unexport MPLBACKEND

.PHONY: setup book book-student test lint notebooks assignments bench lab mutants clean

# Debian's Chromium, for the browser test of the HTML book (tests/test_browser.py).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON_BASE) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	command -v chromium >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
		|| echo "WARNING: could not install Debian's chromium; the browser test in make test will fail"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

# The same book without solutions (exercises kept), for students: _build/student/html.
book-student: $(STAMP)
	$(BIN)/python scripts/build_student_edition.py

# ruff on the library, tests, scripts and the chapters (the executed notebooks); mypy on the library.
lint: $(STAMP)
	$(BIN)/ruff check lottolib tests scripts bench _ext chapters/*.ipynb
	$(BIN)/mypy lottolib

# The browser test opens both built editions, so test builds them first (incremental: quick when up to date).
test: $(STAMP) lint book book-student
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval chapters

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

assignments: $(STAMP)
	$(BIN)/python scripts/make_assignments.py

bench: $(STAMP)
	$(BIN)/python bench/suite.py
	$(BIN)/python scripts/execute_notebooks.py chapters/source/12_performance.md

# Mutation testing of the math core (pyproject's [tool.mutmut]); slow, so not part of `make test`.
# Results: `.venv/bin/mutmut results`, one mutant: `.venv/bin/mutmut show NAME`.
mutants: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python scripts/mutation_report.py

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

clean:
	rm -rf _build assignments/dist
