# BooQing WhatsApp: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3


.PHONY: run test fuzz lint format install install-dev browser migrate clean messages messages-update

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet --editable .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet --editable ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

# Translations are compiled by the build (GNU gettext's msgfmt; installed when missing and root).
messages: | $(VENV)/bin/activate
	@command -v msgfmt >/dev/null || { [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null && \
		(apt-get install -y -qq gettext >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq gettext >/dev/null)); }
	@$(PY) manage.py compilemessages --ignore .venv --ignore node_modules -v0

# After changing texts: collect them into locale/id/LC_MESSAGES/django.po, then translate the new ones.
messages-update: install
	$(PY) manage.py makemessages -l id --ignore node_modules --ignore bench --ignore staticfiles \
		--ignore "gateway_simulator/*" --no-obsolete

## make run: install, migrate, seed the demo and start web, worker, scheduler and the gateway simulator
run: install messages
	./scripts/run_demo.sh

## make test: install what the tests need (Chromium included) and run the whole suite
test: install-dev browser messages
	$(PY) -m pytest $(PYTEST_ARGS)

## make fuzz: a deeper schemathesis run over /api/openapi.json than the one `make test` includes
fuzz: install-dev
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(PY) -m pytest -q whatsapp/tests/api/test_fuzz.py

# Browser tests drive Debian's Chromium; install it when missing and we may (root), else Playwright's.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)); \
	else \
		$(PY) -m playwright install chromium; \
	fi
	@# axe-core (npm) for the accessibility checks of the browser tests; skipped without npm.
	@if [ ! -f .cache/npm/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then \
		npm install --prefix .cache/npm --no-save --no-package-lock --no-audit --no-fund --silent axe-core@^4 \
		|| echo "axe-core not installed: the browser tests run without accessibility checks"; \
	fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
