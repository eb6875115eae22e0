# Two commands on a fresh machine: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
FHIR_PORT ?= 8090
# `make run WORKERS=4`: several worker processes sharing one database (README "Deploying").
WORKERS ?= 1
STAMP := $(VENV)/.installed
FHIR_DEPS := sandbox/fhir-server/node_modules/.package-lock.json

# `make check`: lint, format and types (strict on cds_service/), before `make test` in CI.
CHECKED := cds_service tests sandbox bench

.PHONY: check run test test-fast fuzz check-policies policy-table bench audit-load fhir-server patients fire clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# The sandbox FHIR server (npm); without npm its tests skip.
$(FHIR_DEPS): sandbox/fhir-server/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix sandbox/fhir-server --no-audit --no-fund; else echo "npm not found: FHIR-server tests will skip"; fi

check: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

run: $(STAMP)
	$(BIN)/idds-cds check-policies
	$(BIN)/idds-cds serve --host 127.0.0.1 --port $(PORT) --workers $(WORKERS)

test: $(STAMP) $(FHIR_DEPS)
	$(BIN)/python -m pytest

# While iterating: everything but the tests marked slow (fuzzing, browsers, service and FHIR-server
# processes, PostgreSQL; pyproject.toml). `make test` still runs them all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The long fuzz profile (not part of `make test`): >= 20,000 requests against a running
# instance with hostile FHIR servers on loopback, then the hypothesis and schemathesis
# searches ten times longer. Bounded: the instance fuzz stops at IDDS_FUZZ_SECONDS (1200)
# whatever is left, and the whole target at 40 minutes. Figures: var/fuzz-last-long.json.
FUZZ_REQUESTS ?= 20000
fuzz: $(STAMP)
	IDDS_FUZZ_PROFILE=long IDDS_FUZZ_REQUESTS=$(FUZZ_REQUESTS) timeout 2400 $(BIN)/python -m pytest -q -s \
		tests/test_security_fuzz.py tests/test_fuzz.py tests/test_deferred_chart.py

check-policies: $(STAMP)
	$(BIN)/idds-cds check-policies

policy-table: $(STAMP)
	$(BIN)/idds-cds policy-table --write README.md

# bench/peer.py makes bench/.peer-venv (HealthChain, pinned in bench/peer/requirements.txt) on first use; wrk if installed.
bench: $(STAMP)
	$(BIN)/python bench/run.py

fhir-server: $(FHIR_DEPS)
	node sandbox/fhir-server/server.mjs --port $(FHIR_PORT) --load sandbox/patients

patients: $(STAMP)
	$(BIN)/python sandbox/build_patients.py

fire: $(STAMP)
	$(BIN)/python sandbox/fire.py --all --service http://127.0.0.1:$(PORT)

# The README's pictures (docs/checklist.png, docs/documentation-form.png) in headless Chromium;
# the tests never write tracked files, this target does.
screenshots: $(STAMP) $(FHIR_DEPS)
	$(BIN)/python -m sandbox.screenshots

clean:
	rm -rf $(VENV) .pytest_cache sandbox/fhir-server/node_modules

audit-load: $(STAMP)
	$(BIN)/python bench/audit_load.py
