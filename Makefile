# make run: the whole service locally (Redis, demo simulators, worker, beat, web).
# make test / make lint: the checks CI runs (CI itself: bash .ci/run).
# Options of the dev runner: make run ARGS="--symbols 50 --web-port 8080".

PYTHON ?= python3
VENV := .venv
ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: run test lint

run: $(STAMP)
	exec $(VENV)/bin/ticker-service dev $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The locks as constraints: every install path gets the versions CI tested.
LOCKS := docker/requirements.lock docker/requirements-dev.lock

# Reinstall only when the project's metadata or a lock changed (the install is editable).
$(STAMP): pyproject.toml $(LOCKS) | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" \
		$(foreach lock,$(LOCKS),--constraint $(lock))
	touch $@
