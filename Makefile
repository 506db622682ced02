# Loudong: `make run` runs it, `make test` tests it. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run lint test bench clean fuzz chaos monitor

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install  ## all four services, SQLite under ./data, no broker needed
	$(BIN)/loudong run

lint: install  ## ruff: the linter and the formatter, configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Debian's Chromium drives the page tests; without a CJK font every Chinese character would be a box.
BROWSER := /usr/bin/chromium /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(BROWSER):
	@echo "installing chromium and a CJK font (for the page tests) with apt-get"
	@apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# Debian's Prometheus (with promtool) checks the rules and scrapes the services in the tests.
PROMETHEUS := /usr/bin/prometheus /usr/bin/promtool
$(PROMETHEUS):
	@echo "installing prometheus and promtool with apt-get"
	@apt-get install -y -qq prometheus >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }

test: lint $(BROWSER) $(PROMETHEUS)  ## the linter, then unit, integration (real RabbitMQ and PostgreSQL), page, operations and end-to-end tests
	$(BIN)/python -m pytest

bench: install  ## figures on RabbitMQ and PostgreSQL; printed, never asserted
	@command -v wrk >/dev/null || { echo "installing wrk (the HTTP load generator) with apt-get"; \
		apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(BIN)/python -m bench.run

fuzz: install  ## schemathesis against each service's OpenAPI document, full size; prints the figures
	LOUDONG_FUZZ_EXAMPLES=$${LOUDONG_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz

chaos: install  ## thousands of issues while replicas are killed, the broker restarted, connections cut; and a poison flood. Prints the figures
	LOUDONG_CHAOS_ISSUES=$${LOUDONG_CHAOS_ISSUES:-3000} LOUDONG_CHAOS_RATE=$${LOUDONG_CHAOS_RATE:-10} \
	LOUDONG_CHAOS_POISON=$${LOUDONG_CHAOS_POISON:-1000} \
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout 2400 tests/chaos

monitor: install $(PROMETHEUS)  ## Prometheus with the project's rules, scraping what `make run` started
	$(BIN)/python -m devtools.monitor

clean:
	rm -rf $(VENV) data .pytest_cache
