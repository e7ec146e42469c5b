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

.PHONY: setup book test lint notebooks bench lab clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON_BASE) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check lottolib tests scripts bench

test: $(STAMP) lint
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval chapters

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

bench: $(STAMP)
	$(BIN)/python bench/suite.py
	$(BIN)/python scripts/execute_notebooks.py chapters/source/11_performance.md

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

clean:
	rm -rf _build
