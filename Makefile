# Two commands for a fresh clone:  make demo   |   make test
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml setup.py constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,spark,lint]'
	@# byte-compile the package as pip does for a regular install (an editable one leaves it to the first
	@# import, and where PYTHONDONTWRITEBYTECODE is set, every command compiles ~80 modules again: 0.2 s)
	$(PY) -m compileall -q __init__.py engine plugins dsl cli rulesets
	touch $@

.PHONY: setup demo test lint docs bench
setup: $(VENV)/.installed

demo: setup  ## write sample data into demo/ and rate it end to end
	$(VENV)/bin/tierwise demo demo

test: setup  ## run the whole test suite
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup  ## ruff over the repository, then mypy over the package (CI runs it after the tests)
	$(VENV)/bin/ruff check .
	@# mypy checks the installed package `tierwise`, whose folder is this one (setup.py's package_dir):
	@# it cannot follow setuptools' editable-install finder, so a link named tierwise stands in for it
	mkdir -p $(VENV)/mypy && ln -sfn "$(CURDIR)" $(VENV)/mypy/tierwise
	MYPYPATH=$(VENV)/mypy $(VENV)/bin/mypy

docs: setup  ## regenerate docs/cli.md from --help
	$(PY) -m tierwise.cli.docs > docs/cli.md

bench: setup  ## 1M customers: tierwise run vs hand-written DuckDB SQL
	$(PY) bench/run.py
