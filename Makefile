# Two commands do everything on a fresh machine: `make book` and `make test`.
PYTHON_BASE ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# One environment for executing notebooks, for nbval and for the book: same threads, seeds, backend.
# OMP_WAIT_POLICY=PASSIVE: an idle OpenMP thread sleeps instead of spinning. It changes no result, only how
# threads wait. make test runs two workers with two threads each on two cores, and spinning threads starve
# the other worker: chapter 11's first cells took 21-25 s in each of two runs at once, 7-9 s passive (quiet
# machine). Alone, waiting passively is slower (12 s against 7 s), so make lab and make bench (which measures
# what a reader gets) run without it.
export OMP_NUM_THREADS := 2
export MKL_NUM_THREADS := 2
export OMP_WAIT_POLICY := PASSIVE
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1
unexport MPLBACKEND

.PHONY: setup browser tex book book-student pdf test lint notebooks assignments grade bench lab mutants clean

# Reading and running: the virtual environment with every pinned package and lottolib (editable).
# No system packages, no sudo.
setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON_BASE) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Only the browser test of the HTML book (tests/test_browser.py) needs Debian's Chromium; make test
# installs it with apt (as root, or with sudo) unless it is there or LOTTOBOOK_SKIP_BROWSER=1.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@[ "$$LOTTOBOOK_SKIP_BROWSER" = 1 ] || command -v chromium >/dev/null 2>&1 \
		|| $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
		|| echo "WARNING: could not install Debian's chromium; the browser test will fail (LOTTOBOOK_SKIP_BROWSER=1 skips it)"

# The HTML book, and under _build/html/downloads/ the lottolib wheel, the notebooks zip and the
# source archive (_ext/downloads.py); _build/lab-references.json for make lab (_ext/lab_references.py).
book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

# The PDF edition needs Debian's TeX (xelatex, latexmk, FreeFont, xindy) and poppler-utils (its test
# reads the PDF with pdftotext); make pdf installs them with apt, as root or with sudo (35 packages,
# 404 MB; measured 4.5 minutes on a busy machine).
TEX_PACKAGES := texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	fonts-freefont-otf latexmk xindy poppler-utils
tex:
	@{ command -v xelatex && command -v latexmk && command -v xindy && command -v pdftotext \
		&& [ -f /usr/share/fonts/opentype/freefont/FreeSerif.otf ]; } >/dev/null 2>&1 \
		|| $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null \
			&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES) >/dev/null; }

# The PDF edition: jupyter-book's LaTeX builder (xelatex through latexmk, _config.yml's latex: and
# latex_elements, _ext/latex_edition.py), into _build/pdf/_build/latex/lottobook.pdf (its own folder and
# doctrees: building it does not make the next make book re-read every page), copied to
# _build/html/downloads/lottobook.pdf, which the landing page links to. Rebuilt only when a page, the
# configuration or the library changes.
PDF := _build/pdf/_build/latex/lottobook.pdf
$(PDF): $(STAMP) $(wildcard chapters/*.ipynb *.md) _toc.yml _config.yml references.bib $(wildcard _ext/*.py _latex/* lottolib/*.py)
	@$(MAKE) --no-print-directory tex
	$(BIN)/jupyter-book build . --builder pdflatex --path-output _build/pdf -W -n --keep-going
	@test -f $(PDF) || { echo "no $(PDF): see $(dir $(PDF))lottobook.log"; exit 1; }
	touch $(PDF)

pdf: $(PDF)
	mkdir -p _build/html/downloads
	cp $(PDF) _build/html/downloads/lottobook.pdf
	@echo "Open $(CURDIR)/$(PDF)"

# The same book without solutions (exercises kept), for students: _build/student/html.
book-student: $(STAMP)
	$(BIN)/python scripts/build_student_edition.py

# ruff on the library, tests, scripts, assignments and the chapters (the executed notebooks); mypy on the library.
lint: $(STAMP)
	$(BIN)/ruff check lottolib tests scripts bench _ext assignments/source chapters/*.ipynb
	$(BIN)/mypy lottolib

# The browser, download and PDF tests open both built editions and the PDF, so test builds them first
# (incremental: quick when up to date). pdf comes after book, which it adds its download to; lint, the
# student edition and the PDF then run side by side (on a fresh clone 20 s, 30 s and 46 s one after another).
# tests/test_downloads.py runs nbval on READER_CHAPTERS in a reader's fresh environment (installed from
# the served wheel and the zip's requirements); the nbval run here checks every other chapter.
# One pytest run on both cores (pytest-xdist): --dist loadfile keeps a file on one worker, so a notebook's
# cells share one kernel and a test file builds its fixtures once; tests/conftest.py starts the tests that
# build fresh environments (mostly waiting for pip) first, so everything else runs beside them.
READER_CHAPTERS := 00_lottery_tickets 08_subset_sum 10_residual 11_certificates
test: $(STAMP) browser book
	$(MAKE) --no-print-directory -j2 --output-sync=target lint book-student pdf
	$(BIN)/python -m pytest -n 2 --dist loadfile tests --nbval chapters $(foreach chapter,$(READER_CHAPTERS),--ignore=chapters/$(chapter).ipynb)

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

# assignments/dist/NAME/{student,autograder}/, regenerated when a source, the script or the library changes.
DIST := assignments/dist
DIST_STAMP := $(DIST)/.built
$(DIST_STAMP): $(STAMP) $(wildcard assignments/source/*) scripts/make_assignments.py scripts/build_wheel.py \
		pyproject.toml requirements.txt $(wildcard lottolib/*.py)
	$(BIN)/python scripts/make_assignments.py
	touch $(DIST_STAMP)

assignments: $(DIST_STAMP)

# make grade ASSIGNMENT=01_pair_selection SUBMISSIONS=dir [OUT=grades/01_pair_selection]
grade: $(DIST_STAMP)
	@[ -n "$(ASSIGNMENT)" ] && [ -n "$(SUBMISSIONS)" ] \
		|| { echo "usage: make grade ASSIGNMENT=NAME SUBMISSIONS=DIR [OUT=DIR]   (NAME: $(notdir $(basename $(wildcard assignments/source/*.md))))"; exit 2; }
	$(BIN)/python scripts/grade.py $(ASSIGNMENT) $(SUBMISSIONS) $(if $(OUT),--out $(OUT))

AS_READERS_RUN := env -u OMP_WAIT_POLICY
bench: $(STAMP) browser
	$(AS_READERS_RUN) $(BIN)/python bench/suite.py
	$(AS_READERS_RUN) $(BIN)/python bench/certificate_bench.py
	$(AS_READERS_RUN) $(BIN)/python bench/lenet_limit.py
	$(AS_READERS_RUN) $(BIN)/python bench/subset_sum_bench.py
	$(AS_READERS_RUN) $(BIN)/python bench/residual_bench.py
	$(AS_READERS_RUN) $(BIN)/python bench/widget_latency.py
	$(AS_READERS_RUN) $(BIN)/python bench/run_all.py
	$(BIN)/python scripts/execute_notebooks.py chapters/source/08_subset_sum.md chapters/source/11_certificates.md chapters/source/13_performance.md

# Mutation testing of the math core (pyproject's [tool.mutmut]); slow, so not part of `make test`.
# Results: `.venv/bin/mutmut results`, one mutant: `.venv/bin/mutmut show NAME`.
mutants: $(STAMP)
	rm -rf mutants
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/mutmut run --max-children 2
	$(BIN)/python scripts/mutation_report.py

# JupyterLab (with jupyterlab-myst) on lab/, a git-ignored working copy of the chapters and the
# assignments' student folders: autosave never touches a tracked notebook. The chapters are written
# out with the book's references (_build/lab-references.json, from the HTML build). FRESH=1 replaces
# the copies (discarding your edits in lab/).
LAB := lab
LAB_REFERENCES := _build/lab-references.json
$(LAB_REFERENCES): $(STAMP) $(wildcard chapters/*.ipynb *.md) _toc.yml _config.yml references.bib $(wildcard _ext/*.py)
	@$(MAKE) --no-print-directory book

lab: $(STAMP) $(DIST_STAMP) $(LAB_REFERENCES)
	$(BIN)/python scripts/prepare_lab.py --dest $(LAB) $(if $(FRESH),--fresh)
	$(AS_READERS_RUN) $(BIN)/jupyter lab --ServerApp.root_dir=$(LAB) $(LAB_ARGS)

# lab/ and grades/ hold your own work: clean leaves them alone.
clean:
	rm -rf _build assignments/dist
