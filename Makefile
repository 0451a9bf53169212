# Herald's build, local stack and tests. `make dev` and `make test` are the two
# commands the README starts with; each installs what it needs.

SHELL := /bin/bash
GO ?= go
PYTHON ?= python3

# Pinned tools, installed into the checkout (never globally).
RIE_MODULE      := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION     := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2

BIN        := $(CURDIR)/.bin
MOTO_VENV  := $(CURDIR)/.venv/moto
SAM_VENV   := $(CURDIR)/.venv/sam
HOST_BUILD := $(CURDIR)/.build/host
ARM_BUILD  := $(CURDIR)/.build/arm64
FUNCTIONS  := ApiFunction IngestFunction DeliveryFunction

# Lambda builds: static, arm64, without the RPC shim the provided runtimes do
# not need.
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='

export SAM_CLI_TELEMETRY := 0

.PHONY: help build host-build dev invoke token test browser-tools test-go test-node lint vet staticcheck sam-validate sam-build tools clean

help:
	@echo "make dev                      bring up the local stack (moto, emulated functions, gateway on 127.0.0.1:3000)"
	@echo "make test                     run every test"
	@echo "make invoke FN=<LogicalId> EVENT=events/<file>.json   run one function against the local stack"
	@echo "make token PROJECT=<id>       create an API token for a project"
	@echo "make token-list | token-revoke ID=<id>   list or revoke API tokens (STACK=<name> for a deployed stack)"
	@echo "make redrive STACK=<name>     move a deployed stack's dead-letter messages back to the delivery queue"
	@echo "make build | lint | clean"

# --- SAM's makefile builder: `sam build` runs these with ARTIFACTS_DIR set. ---
build-ApiFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api
build-IngestFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ingest
build-DeliveryFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/delivery

# The three arm64 bootstraps Lambda runs, without SAM.
build:
	@for fn in $(FUNCTIONS); do $(MAKE) --no-print-directory build-$$fn ARTIFACTS_DIR=$(ARM_BUILD)/$$fn || exit 1; done
	@ls -l $(ARM_BUILD)/*/bootstrap

# The same bootstraps for this machine's architecture: the emulator runs them natively.
host-build:
	@for fn in api ingest delivery; do \
	  case $$fn in api) id=ApiFunction;; ingest) id=IngestFunction;; delivery) id=DeliveryFunction;; esac; \
	  CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(HOST_BUILD)/$$id/bootstrap ./functions/$$fn || exit 1; \
	done

# --- Tools ---
tools: $(BIN)/aws-lambda-rie $(MOTO_VENV)/bin/herald-moto

$(BIN)/aws-lambda-rie:
	GOBIN=$(BIN) $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(MOTO_VENV)/.installed: tools/requirements-moto.txt
	$(PYTHON) -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-moto.txt
	touch $@

# moto_server with DynamoDB requests serialised (see tools/moto/herald_moto.py).
$(MOTO_VENV)/bin/herald-moto: $(MOTO_VENV)/.installed tools/moto/herald_moto.py
	printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(MOTO_VENV)/bin/python" "$(CURDIR)/tools/moto/herald_moto.py" > $@
	chmod +x $@

$(SAM_VENV)/.installed: tools/requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-sam.txt
	touch $@

test/client/node_modules/.installed: test/client/package.json test/client/package-lock.json
	cd test/client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The admin page's browser tests: a Chromium or Chrome (HERALD_CHROMIUM, else
# the usual names and places; installed with apt-get where that works, on
# Debian as root; else make stops and says what to install) and
# playwright-core, pinned in test/browser/package-lock.json, to drive it.
test/browser/node_modules/.installed: test/browser/package.json test/browser/package-lock.json
	cd test/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

browser-tools: test/browser/node_modules/.installed
	@test/browser/chromium.sh install >/dev/null

# The environment every local run shares: where the tools are.
LOCAL_ENV := HERALD_MOTO_SERVER=$(MOTO_VENV)/bin/herald-moto HERALD_RIE=$(BIN)/aws-lambda-rie HERALD_HOST_BUILD=$(HOST_BUILD)

# --- The local stack ---
# AUTO_DISABLE_AFTER=30s disables a webhook whose every attempt failed for
# 30 s, to watch auto-disable within a minute (docs/endpoint-health.md).
dev: tools host-build
	$(LOCAL_ENV) $(GO) run ./tools/herald-dev up $(if $(AUTO_DISABLE_AFTER),-auto-disable-after $(AUTO_DISABLE_AFTER))

invoke: tools host-build
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	@$(LOCAL_ENV) $(GO) run ./tools/herald-dev invoke -function $(FN) -event $(EVENT)

token:
	@test -n "$(PROJECT)" || { echo "usage: make token PROJECT=<id> [STACK=<stack name>] [LABEL=<text>]"; exit 2; }
	@$(GO) run ./tools/herald-token -project "$(PROJECT)" $(if $(STACK),-stack "$(STACK)") $(if $(LABEL),-label "$(LABEL)")

# Tokens as ids (the hash's first 12 hex digits), projects, labels and
# creation times; never the tokens (docs/operations.md, "API tokens").
.PHONY: token-list token-revoke
token-list:
	@$(GO) run ./tools/herald-token list $(if $(PROJECT),-project "$(PROJECT)") $(if $(STACK),-stack "$(STACK)")

token-revoke:
	@test -n "$(ID)" || { echo "usage: make token-revoke ID=<id from make token-list> [STACK=<stack name>]"; exit 2; }
	@$(GO) run ./tools/herald-token revoke -id "$(ID)" $(if $(STACK),-stack "$(STACK)")

# Moves a deployed stack's dead-letter messages back to its delivery queue
# (docs/operations.md, "Redrive"), with the usual AWS credentials and region.
# RATE=<messages per second> to go slower than SQS would.
.PHONY: redrive
redrive:
	@test -n "$(STACK)" || { echo "usage: make redrive STACK=<stack name> [QUEUE=retries|first] [RATE=<messages per second>]"; exit 2; }
	@$(GO) run ./tools/herald-redrive -stack "$(STACK)" $(if $(QUEUE),-queue $(QUEUE)) $(if $(RATE),-rate $(RATE))

# --- Load (docs/performance-load.md): bounded runs against a local stack on free ports ---
.PHONY: load load-api
LOAD_OUT ?= docs/perf

# ~2 min: 5 events/s × 5 webhooks for 60 s, then the drain; latency, throughput, ledger, plots.
load: tools host-build
	$(LOCAL_ENV) $(GO) run ./tools/herald-load events -rate 5 -webhooks 5 -duration 60s -drain 90s -out $(LOAD_OUT)

# 100 API clients for 30 s, then a burst of 5,000 events × 2 webhooks (no delivery function:
# every call's job must be queued); every write and event accounted for. The burst is bounded
# by its size, not a clock: moto's SQS slows as the queue grows (21 min on a busy 2-core machine).
load-api: tools host-build
	$(LOCAL_ENV) $(GO) run ./tools/herald-load api -clients 100 -duration 30s -burst 5000 -burst-webhooks 2 -out $(LOAD_OUT)

# --- Tests ---
# Every log the tests keep, and the secrets they used, go to TEST_LOGS;
# test/logscan then fails the run if any secret is in any of them.
TEST_LOGS := $(CURDIR)/.herald/test-logs

# The product's packages (unit and moto-backed tests) run under the race
# detector; the end-to-end, browser and tool packages drive separate
# processes and run without it.
TEST_ENV = $(LOCAL_ENV) HERALD_CHROMIUM="$$(test/browser/chromium.sh)" HERALD_TEST_LOG_DIR=$(TEST_LOGS)

test: tools host-build test/client/node_modules/.installed browser-tools
	rm -rf $(TEST_LOGS) && mkdir -p $(TEST_LOGS)
	set -o pipefail; { $(TEST_ENV) $(GO) test -race -count=1 -timeout 15m ./shared/... && \
	  $(TEST_ENV) $(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/shared/'); } 2>&1 | tee $(TEST_LOGS)/go-test.out
	$(GO) run ./test/logscan $(TEST_LOGS)
	$(MAKE) --no-print-directory fuzz-smoke

# --- Fuzzing (docs/security.md) ---
# Each target is package:FuzzName; go test fuzzes one target per run.
FUZZ_TARGETS := shared/herald:FuzzParseEvent shared/ingest:FuzzSplitBatch shared/herald:FuzzWebhook \
	shared/herald:FuzzTemplate shared/httpapi:FuzzWebhookDocument shared/httpapi:FuzzCallQuery
FUZZTIME ?= 5m
.PHONY: fuzz fuzz-smoke

# make fuzz FUZZTIME=30m fuzzes every target for FUZZTIME; a failing input is
# written to the package's testdata/fuzz/<FuzzName>/ and fails the run.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# The short run make test does: 6 targets x 7 s, about 60 s with the builds.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=7s

# The full chaos run (docs/reliability.md): 2,000 events x 4 webhooks through
# the local stack with kills, AWS faults and failing receivers; prints the
# ledger and fails if it does not balance. About 10-15 minutes (it waits for
# the 2-minute retries). CHAOS_FLAGS passes flags (see go run ./tools/herald-chaos -h).
.PHONY: chaos
chaos: tools host-build
	$(LOCAL_ENV) $(GO) run ./tools/herald-chaos $(CHAOS_FLAGS)

# --- Static checks ---
vet:
	$(GO) vet ./...

staticcheck: $(BIN)/staticcheck
	$(BIN)/staticcheck ./...

# Template variants (docs/operations.md, "Checks"): sam validate, checkov
# and sam build read a template's parameter defaults, so each variant is a
# copy of template.yaml with other defaults, written by tools/herald-variant.
# CI checks the default template and VARIANTS (every option on).
VARIANTS    ?= all-on
VARIANT_DIR := $(CURDIR)/.build/variants
.PHONY: variants

variants:
	@for v in $(VARIANTS); do $(GO) run ./tools/herald-variant -variant $$v -o $(VARIANT_DIR)/$$v.yaml || exit 1; done

sam-validate: $(SAM_VENV)/.installed variants
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1
	@for v in $(VARIANTS); do \
	  echo "sam validate --lint, variant $$v:"; \
	  $(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template-file $(VARIANT_DIR)/$$v.yaml || exit 1; \
	done

# The variants build in the source tree (no copy of the checkout) with the
# Go build cache the first build filled: a few seconds each. Their
# artifacts stay under .build/variants; .aws-sam/build is the default's.
sam-build: $(SAM_VENV)/.installed variants
	$(SAM_VENV)/bin/sam build
	@for fn in $(FUNCTIONS); do \
	  f=.aws-sam/build/$$fn/bootstrap; \
	  machine=$$(readelf -h $$f | sed -n 's/^ *Machine: *//p'); \
	  echo "$$f: $$machine, $$(stat -c %s $$f) bytes"; \
	  case "$$machine" in *AArch64*) ;; *) echo "$$f is not arm64"; exit 1;; esac; \
	done
	@for v in $(VARIANTS); do \
	  echo "sam build, variant $$v:"; \
	  $(SAM_VENV)/bin/sam build --template-file $(VARIANT_DIR)/$$v.yaml --base-dir $(CURDIR) \
	    --build-dir $(VARIANT_DIR)/$$v-build --build-in-source || exit 1; \
	done

# Security static analysis (docs/security.md): checkov over the template,
# gosec over the Go code. Each finding is fixed or waived where it is, with
# its reason (# checkov:skip=... in template.yaml, // #nosec G... -- in Go).
GOSEC_VERSION := v2.30.0
CHECKOV_VENV  := $(CURDIR)/.venv/checkov
.PHONY: security-lint

$(BIN)/gosec:
	GOBIN=$(BIN) $(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION)

$(CHECKOV_VENV)/.installed: tools/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-checkov.txt
	touch $@

security-lint: $(BIN)/gosec $(CHECKOV_VENV)/.installed variants
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
	@for v in $(VARIANTS); do \
	  echo "checkov, variant $$v:"; \
	  $(CHECKOV_VENV)/bin/checkov -f $(VARIANT_DIR)/$$v.yaml --framework cloudformation --skip-download --compact --quiet || exit 1; \
	done
	$(BIN)/gosec -quiet -exclude-dir=.venv ./...

# go.mod must be tidy: every requirement used, direct ones marked direct.
lint: vet staticcheck sam-validate
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

clean:
	rm -rf .build .aws-sam .herald

# --- Benchmarks and cost (docs/performance.md) ---
# `make bench`: the Go benchmarks, BENCH_COUNT runs of each for benchstat,
# raw output kept in .bench/latest.txt (compare two runs with
# `.bin/benchstat old.txt .bench/latest.txt`). About 2 minutes on 2 cores with
# the defaults; BENCH_COUNT=1 BENCH_TIME=100ms for a quick look.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
BENCH_COUNT ?= 6
BENCH_TIME  ?= 500ms
BENCH_PKGS  := ./shared/herald ./shared/signing ./shared/httpapi ./shared/ingest ./shared/sender ./shared/delivery

.PHONY: bench bench-smoke cost coldstart

$(BIN)/benchstat:
	GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

bench: $(BIN)/benchstat
	@mkdir -p .bench
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) -timeout 30m $(BENCH_PKGS) | tee .bench/latest.txt
	$(BIN)/benchstat .bench/latest.txt

# Every benchmark once: they check their own results, so this catches a
# broken one in seconds.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x $(BENCH_PKGS)

# `make cost`: AWS calls per event and per delivered webhook, counted through
# the SDK against moto, priced at the list prices in tools/herald-cost/prices.go.
# About 40 s. COST_FLAGS=-matches=10 for events that fan out to ten webhooks.
cost: tools
	@mkdir -p .bench
	set -o pipefail; $(LOCAL_ENV) $(GO) run ./tools/herald-cost $(COST_FLAGS) | tee .bench/cost.md

# `make coldstart`: each bootstrap's size and the emulator's Init Duration
# over COLDSTART_ROUNDS cold starts per function. About 15 s after the builds.
COLDSTART_ROUNDS ?= 5
coldstart: tools build host-build
	@mkdir -p .bench
	set -o pipefail; $(LOCAL_ENV) $(GO) run ./tools/herald-coldstart -rounds $(COLDSTART_ROUNDS) | tee .bench/coldstart.md
