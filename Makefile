# credit-warehouse: the two commands a new user needs are `make demo` and `make test`.
# Needs only python3 (3.11) and make: uv is bootstrapped into .tools/ and installs the locked
# environment into .venv/ (uv.lock); the embedded PostgreSQL comes from a wheel.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATE ?= 2026-11-20
DEMO_SCALE ?= 1

.PHONY: help setup demo test lint bench manifest docs db-start db-stop clean browser sshd redis mariadb

help:
	@echo "make demo   - set up, start the embedded warehouse, simulate night $(DEMO_DATE), run it through Airflow"
	@echo "make test   - run the test suite"
	@echo "make bench  - run the benchmarks (see docs/benchmarks.md)"
	@echo "make docs   - regenerate docs/data_dictionary.md and the dbt docs site"
	@echo "make lint   - ruff, the import contracts (lint-imports), dbt-score on the manifest, sqlfluff on the SQL"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/credit-dw: $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --quiet
	@touch $@

# Setup also builds the dbt manifest Cosmos renders `credit_transform` from (`dbt parse`: no
# database needed; rebuilt only when the dbt sources changed), so the DAGs load under a real
# dag-processor on a fresh checkout.
ENSURE_MANIFEST := $(BIN)/python -c "from credit_dw.transform.dbt import ensure_manifest; ensure_manifest()"
# It also writes the project's Airflow settings (credit_dw.config.airflow_env.defaults) into
# $AIRFLOW_HOME/airflow.cfg (default .local/airflow), so a plain `airflow` command there sees what
# credit-dw sets: no example DAGs, Beijing time, telemetry off.
WRITE_AIRFLOW_CFG := $(BIN)/python -c "from credit_dw.config.airflow_env import write_config; write_config()"

setup: $(BIN)/credit-dw
	@$(ENSURE_MANIFEST)
	@$(WRITE_AIRFLOW_CFG)

manifest: setup
	$(ENSURE_MANIFEST)

demo: setup
	$(BIN)/credit-dw db start
	$(BIN)/credit-dw simulate --date $(DEMO_DATE) --scale $(DEMO_SCALE)
	$(BIN)/credit-dw run --date $(DEMO_DATE)

# Headless Chromium renders the quality report in tests (tests/test_quality_report.py): Debian's
# package plus a CJK font so the Chinese page is legible in the screenshot, installed only when
# missing (needs root, as in the project's container). The audit report's PDF is printed by
# WeasyPrint, which needs Pango; tests look at its pages with poppler's pdftoppm.
browser:
	@test -x /usr/bin/chromium -a -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc -a -x /usr/bin/pdftoppm || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei poppler-utils libpango-1.0-0 libpangoft2-1.0-0)

# SFTP delivery is tested against a real OpenSSH server the tests start on 127.0.0.1
# (tests/test_sftp_delivery.py): Debian's openssh-server, installed only when missing (needs root).
# Only the binary is used: the tests run it with a configuration of their own, not as a service.
sshd:
	@test -x /usr/sbin/sshd || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server)

# Redis, the Celery broker tests/test_real_scheduler.py starts on 127.0.0.1 (Debian's package).
redis:
	@test -x /usr/bin/redis-server || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)

# MariaDB, a department database tests/test_department_databases.py starts on 127.0.0.1 (Debian's package).
mariadb:
	@test -x /usr/sbin/mariadbd || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server)

# The import contracts run with every test run (CI runs `make test`).
test: setup browser sshd redis mariadb lint
	$(BIN)/pytest

docs: setup
	$(BIN)/credit-dw docs

# The dbt project's conventions: dbt-score's rules (lint/dbt_rules.py, pyproject.toml [tool.dbt-score])
# on the manifest, parsed here without a database, and sqlfluff on the SQL (dbt_project/.sqlfluff).
# Both run, so one pass shows every finding; either failing fails the lint.
lint: setup
	$(BIN)/ruff check include dags tests benchmarks lint
	$(BIN)/lint-imports
	$(ENSURE_MANIFEST)
	status=0; \
	$(BIN)/dbt-score lint --manifest dbt_project/target/manifest.json || status=1; \
	(cd dbt_project && ../$(BIN)/sqlfluff lint --processes 0 --disable-progress-bar) || status=1; \
	exit $$status

bench: setup
	$(BIN)/credit-dw bench

db-start: setup
	$(BIN)/credit-dw db start

db-stop: setup
	$(BIN)/credit-dw db stop

clean:
	-$(BIN)/credit-dw db stop
	rm -rf .local dbt_project/target dbt_project/logs
