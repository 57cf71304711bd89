# bopo: `make run` to try it, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BOPO := $(BIN)/bopo
RUN_DB ?= sqlite:///bopo-demo.db

.DEFAULT_GOAL := help
.PHONY: help run test check test-dates lint fmt bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The demo runs with allocation to existing POs switched on.
RUN_ENV := BOPO_DATABASE__URL=$(RUN_DB) BOPO_BACKORDERS__ALLOCATE_EXISTING_POS=true \
	BOPO_BACKORDERS__DEFAULT_PO_LINE_STATUS="ON ORDER"

run: $(VENV)/.installed ## demo data in an SQLite file, a demo login, and bopo at http://127.0.0.1:8000/
	$(RUN_ENV) $(BOPO) demo
	$(RUN_ENV) $(BOPO) users demo-login
	$(RUN_ENV) $(BOPO) serve

# axe-core, the accessibility checker the browser tests load into each page (npm).
AXE := tests/e2e/node_modules/axe-core/axe.min.js
$(AXE): tests/e2e/package.json tests/e2e/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/e2e --silent --no-audit --no-fund && touch $@; \
	else echo "npm not found: the accessibility checks will be skipped"; fi

# The suite runs on every core (pytest-xdist); each worker has its own databases.
test: $(VENV)/.installed $(AXE) ## the whole suite (SQLite, and PostgreSQL when reachable)
	$(BIN)/pytest -n auto

check: lint ## quick: lint, the unit tests, the services and the stories on SQLite
	$(BIN)/pytest -n auto -q tests/unit tests/integration tests/stories -k "not postgresql"

# The tests of whatever reads "today", run again with the machine's calendar moved far
# from the tests' own pinned clock: a leap day and a later year. The long property and
# state-machine runs are left to `make test`: they run on the same pinned clock.
DATE_TESTS := promise or explain or what_if or notice or email or mailer or goods_in \
	or decision or worklist or overdue or supersed or dashboard
test-dates: $(VENV)/.installed ## the date-touching tests on far-away calendars (29 Feb 2028, 2031)
	for day in 2028-02-29 2031-07-01; do \
		BOPO_TEST_CALENDAR=$$day $(BIN)/pytest -n auto -q \
			-k "($(DATE_TESTS)) and not browser and not property and not machine" || exit 1; \
	done

lint: $(VENV)/.installed ## ruff and mypy
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

fmt: $(VENV)/.installed ## format the code
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

bench: $(VENV)/.installed ## intake and email benchmarks; writes bench/results.json
	$(BIN)/python bench/run.py

# Two web nodes, two mailers and a worker on one PostgreSQL while nodes are killed and the
# mail server goes away; checks nothing was lost or done twice (bench/soak.py).
soak: $(VENV)/.installed ## production soak with faults, 90 s (BOPO_SOAK_SECONDS) on PostgreSQL
	$(BIN)/python bench/soak.py

clean: ## remove the venv and local databases
	rm -rf $(VENV) bopo-demo.db* .pytest_cache .mypy_cache .ruff_cache
