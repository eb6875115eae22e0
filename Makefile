# Two commands on a fresh machine: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test check-policies policy-table clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m cds_service.policy_store
	$(BIN)/uvicorn cds_service.app:app --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

check-policies: $(STAMP)
	$(BIN)/python -m cds_service.policy_store

policy-table: $(STAMP)
	$(BIN)/python -m cds_service.policy_table --write README.md

clean:
	rm -rf $(VENV) .pytest_cache
