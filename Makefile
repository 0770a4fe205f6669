# Quick start: `make example` serves the example project, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PORT ?= 8000
PG_URL ?= postgres://root@127.0.0.1:5432/postgres

# pyenv installs every Python but only shims the global one: put all of them on PATH for tox.
PYENV_BINS := $(wildcard $(HOME)/.pyenv/versions/3.11*/bin $(HOME)/.pyenv/versions/3.12*/bin $(HOME)/.pyenv/versions/3.13*/bin)
empty :=
space := $(empty) $(empty)
ifneq ($(PYENV_BINS),)
export PATH := $(subst $(space),:,$(PYENV_BINS)):$(PATH)
endif

# The matrix: SQLite on every Python; PostgreSQL on the LTS and on the newest Django.
# Python 3.12 also runs the tests that start servers (gunicorn, browsers, Node clients).
# On a machine without all three Pythons, make test runs the environments of those that are
# installed and, without 3.12, the whole suite on one of them (tox.ini, one-*); CI requires
# every Python (REQUIRE_ALL_PYTHONS=1: tox then fails on a missing one).
python_works = $(shell PATH='$(PATH)' python$(1) -c 'import sys' >/dev/null 2>&1 && echo $(1))
PYTHONS_FOUND := $(strip $(foreach v,3.11 3.12 3.13,$(call python_works,$(v))))
ifeq ($(REQUIRE_ALL_PYTHONS),1)
PYTHONS_FOUND := 3.11 3.12 3.13
endif
comma := ,
SQLITE_ENV_3.11 := py311-dj52-sqlite
SQLITE_ENV_3.12 := py312-dj6-sqlite
SQLITE_ENV_3.13 := py313-dj6-sqlite
POSTGRES_ENV_3.11 := py311-dj52-postgres
POSTGRES_ENV_3.12 := py312-dj6-postgres
ifneq ($(filter 3.12,$(PYTHONS_FOUND)),)
ONE_PYTHON :=
TOX_SQLITE := $(subst $(space),$(comma),$(foreach v,$(PYTHONS_FOUND),$(SQLITE_ENV_$(v))))
TOX_POSTGRES := $(subst $(space),$(comma),$(strip $(foreach v,$(PYTHONS_FOUND),$(POSTGRES_ENV_$(v)))))
else ifneq ($(PYTHONS_FOUND),)
# No 3.12: the newest installed Python runs everything (Django 6 on 3.13, 5.2 on 3.11).
ONE_PYTHON := python$(lastword $(PYTHONS_FOUND))
ONE_DJANGO := $(if $(filter 3.13,$(PYTHONS_FOUND)),dj6,dj52)
OTHERS := $(filter-out $(lastword $(PYTHONS_FOUND)),$(PYTHONS_FOUND))
TOX_SQLITE := $(subst $(space),$(comma),$(strip one-$(ONE_DJANGO)-sqlite $(foreach v,$(OTHERS),$(SQLITE_ENV_$(v)))))
TOX_POSTGRES := one-$(ONE_DJANGO)-postgres
else
TOX_SQLITE :=
endif

.PHONY: help venv test quicktest lint example bench docs clean

help:
	@echo "make example   serve the example project on 127.0.0.1:$(PORT)"
	@echo "make test      run the whole suite (tox) on SQLite and, when reachable, PostgreSQL"
	@echo "make quicktest run the suite once in .venv (SQLite, or DATABASE_URL)"
	@echo "make lint      ruff + mypy (src and tests); pre-commit install runs them on commit"
	@echo "make bench     benchmarks; writes docs/benchmarks.md (BENCH_ARGS=--quick: shorter)"
	@echo "make docs      build the documentation site into site/ (mkdocs --strict)"

# make example installs the library and what the example needs to run; make test adds the
# test, lint and docs tools.
$(VENV)/.example: pyproject.toml example_project/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e . -r example_project/requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.example example_project/requirements-test.txt
	$(VENV)/bin/python -m pip install --quiet -e '.[test,lint,docs]' \
	  -r example_project/requirements-test.txt tox
	touch $@

venv: $(VENV)/.installed

test: venv
	@set -e; \
	if [ -z "$(TOX_SQLITE)" ]; then \
	  echo "No Python 3.11, 3.12 or 3.13 found on PATH: install one (make test runs tox on them)." >&2; exit 1; \
	fi; \
	echo "Pythons of the matrix found: $(or $(PYTHONS_FOUND),none)$(if $(ONE_PYTHON), (no 3.12: the whole suite on $(ONE_PYTHON)))"; \
	if $(VENV)/bin/python -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  envs="$(TOX_SQLITE),$(TOX_POSTGRES),lint"; backends="SQLite and PostgreSQL"; \
	elif [ -n "$$REQUIRE_POSTGRES" ]; then \
	  echo "PostgreSQL is required (REQUIRE_POSTGRES=1) but $(PG_URL) does not answer." >&2; exit 1; \
	else \
	  echo "PostgreSQL does not answer at $(PG_URL): running the suite on SQLite only."; \
	  envs="$(TOX_SQLITE),lint"; backends="SQLite only"; \
	fi; \
	if command -v npm >/dev/null && node -e 'process.exit(parseInt(process.versions.node) < 20 ? 1 : 0)' 2>/dev/null; then \
	  node_tests=on; clients="run with Node.js $$(node --version)"; \
	elif [ -n "$$REQUIRE_NODE" ]; then \
	  echo "Node.js 20+ and npm are required (REQUIRE_NODE=1); found: node $$(node --version 2>/dev/null || echo none), npm $$(npm --version 2>/dev/null || echo none)." >&2; exit 1; \
	else \
	  echo "Node.js 20+ or npm not found: the tests of the real clients (clients/) are deselected."; \
	  node_tests=off; clients="deselected (install Node.js 20+ and npm)"; \
	fi; \
	NODE_TESTS=$$node_tests PG_URL='$(PG_URL)' $(if $(ONE_PYTHON),ONE_PYTHON=$(ONE_PYTHON) )$(VENV)/bin/tox run -e $$envs; \
	echo "Database backends exercised: $$backends"; \
	echo "Real WatermelonDB/RxDB clients: $$clients"

quicktest: venv
	$(VENV)/bin/pytest
	$(VENV)/bin/pytest example_project -p no:cacheprovider

lint: venv
	$(VENV)/bin/ruff check src tests example_project benchmarks
	$(VENV)/bin/ruff format --check src tests example_project benchmarks
	$(VENV)/bin/mypy

# collectstatic: gunicorn serves no static files; WhiteNoise serves the collected ones
# (the admin's styles, Swagger UI). seed_demo prints the demo admin login, try_it repeats it.
# ASGI (uvicorn workers under gunicorn): live streams wait on the event loop, thousands per
# worker; pushes and pulls run as sync views (docs/live.md#serving-it).
example: $(VENV)/.example
	cd example_project && ../$(VENV)/bin/python manage.py migrate --noinput
	cd example_project && ../$(VENV)/bin/python manage.py collectstatic --noinput --verbosity 0
	cd example_project && ../$(VENV)/bin/python manage.py seed_demo
	cd example_project && ../$(VENV)/bin/python manage.py try_it --port $(PORT)
	cd example_project && ../$(VENV)/bin/gunicorn example.asgi:application \
	  --worker-class uvicorn_worker.UvicornWorker \
	  --bind 127.0.0.1:$(PORT) --workers $${WEB_CONCURRENCY:-2} --access-logfile -

docs: venv
	$(VENV)/bin/mkdocs build --strict --site-dir site

# BENCH_ARGS=--quick for a few minutes; --quick --full-size first_sync,views,files,live for the
# issues' sizes of those steps (see benchmarks/run.py --help).
bench: venv
	$(VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tox build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
