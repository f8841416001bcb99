# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/bin/uv
HW     := $(VENV)/bin/headwater
EXAMPLE := examples/classicmodels
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint format bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.9

# Installs exactly what uv.lock pins; --inexact keeps uv itself in the environment.
$(VENV)/.installed-main: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --inexact --compile-bytecode --python $(VENV)/bin/python
	touch $@

$(VENV)/.installed-dev: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --inexact --compile-bytecode --python $(VENV)/bin/python --extra dev
	touch $@ $(VENV)/.installed-main

## demo: build the embedded classicmodels database, run the pipeline, print the analyst's report
demo: $(VENV)/.installed-main
	$(HW) sample classicmodels --project $(EXAMPLE)
	$(HW) run classicmodels --project $(EXAMPLE)
	$(HW) query --project $(EXAMPLE) --file $(EXAMPLE)/reports/sales_by_country.sql
	$(HW) query --project $(EXAMPLE) --file $(EXAMPLE)/reports/sales_by_product_line.sql

## test: lint, type-check and run the whole suite
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: the extraction benchmark (needs MariaDB and PostgreSQL; see docs/benchmarks.md)
bench: $(UV)
	$(UV) sync --frozen --inexact --compile-bytecode --python $(VENV)/bin/python --extra dev --extra bench
	$(VENV)/bin/python bench/extract.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
