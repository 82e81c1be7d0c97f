# Set-up on a fresh machine: `make demo` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A third-party Matomo tracking client for tests/endpoint/test_third_party_client.py (npm).
NODE_DIR   := $(VENV)/node
TRACKER_JS := $(NODE_DIR)/node_modules/matomo-tracker/package.json

.PHONY: demo demo-serve test lint bench clean browser

$(STAMP): pyproject.toml setup.py formats/_scan.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The demo imports the sample logs and generated ones into the embedded endpoint, prints the
# summaries and the report, and writes the report page to demo-report.html; demo-serve then keeps
# the endpoint up (its /report page and Reporting API) until Ctrl-C. DEMO_ARGS: options of
# log_importer/demo.py (--report FILE, --port N).
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/python -m log_importer.demo $(DEMO_ARGS)

demo-serve: $(STAMP)
	$(BIN)/python -m log_importer.demo --serve $(DEMO_ARGS)

test: $(STAMP) browser $(TRACKER_JS)
	$(BIN)/python -m pytest -q

# Headless Chromium for tests/endpoint/test_report_browser.py: Debian's packages (as root).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

$(TRACKER_JS): | $(STAMP)
	@command -v npm >/dev/null || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; }
	npm install --no-audit --no-fund --loglevel=error --prefix $(NODE_DIR) matomo-tracker@2.2.4

lint: $(STAMP)
	$(BIN)/python -m flake8

# BENCH_ARGS: options of benchmarks/run.py (e.g. --quick). decode_cost.py (last) needs valgrind. Stopped by SIGTERM or Ctrl-C, the
# benchmarks stop every process they started (benchmarks/children.py).
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/endpoint_bench.py --target 20000
	$(BIN)/python benchmarks/pacing.py
	$(BIN)/python benchmarks/decode_cost.py --no-scanner

clean:
	rm -rf $(VENV) build *.egg-info formats/*.so
