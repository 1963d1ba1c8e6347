# Two commands on a fresh machine: `make run` serves on http://127.0.0.1:8080, `make test` runs the suite.
# Without RELIEF_DATABASE_URL both start an embedded PostgreSQL under ./var/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

BENCHES := pledges exports fanout field imports summary public stream
.PHONY: run test screenshots lint clean $(addprefix bench-,$(BENCHES))

$(BIN)/relief: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[embedded,dev]'
	@touch $@

# RELIEF_DEMO=true: an empty database gets the Doksuri demo and its keys are printed (RELIEF_DEMO=false: not).
run: $(BIN)/relief
	RELIEF_DEMO=$${RELIEF_DEMO:-true} exec $(BIN)/relief serve

# Two worker processes (pytest-xdist), each with its own template and clones: the suite mostly waits
# on PostgreSQL and on its own subprocesses, so two halve the time even on a 2-core machine (measured:
# 5:24-6:04 -> 4:15 on the shared PostgreSQL 15). PYTEST_ARGS="-n 0" runs it in one process.
PYTEST_ARGS ?= -n 2
test: $(BIN)/relief
	$(BIN)/pytest $(PYTEST_ARGS)

# Rewrites docs/screenshots/ from the browser tests (make test writes them to a temporary folder).
screenshots: $(BIN)/relief
	RELIEF_SCREENSHOTS=docs $(BIN)/pytest -q tests/test_console_main.py tests/test_console_public.py \
		tests/test_console_stock.py tests/test_console_disbursements.py tests/test_console_impacts.py \
		tests/test_console_sitreps.py

# make bench-NAME runs bench/NAME.py (BENCH_ARGS="…" passes options; each prints its own --help).
$(addprefix bench-,$(BENCHES)): bench-%: $(BIN)/relief
	$(BIN)/python bench/$*.py $(BENCH_ARGS)

lint: $(BIN)/relief
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var/test-pg
