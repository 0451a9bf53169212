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
tools: $(BIN)/aws-lambda-rie $(MOTO_VENV)/.installed

$(BIN)/aws-lambda-rie:
	GOBIN=$(BIN) $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(MOTO_VENV)/.installed: tools/requirements-moto.txt
	$(PYTHON) -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-moto.txt
	touch $@

$(SAM_VENV)/.installed: tools/requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-sam.txt
	touch $@

test/client/node_modules/.installed: test/client/package.json test/client/package-lock.json
	cd test/client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The admin page's browser tests: Debian's Chromium (apt-get needs root, which
# developers' machines and CI have; DejaVu so screenshots have text) and
# playwright-core, pinned in test/browser/package-lock.json, to drive it.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core

test/browser/node_modules/.installed: test/browser/package.json test/browser/package-lock.json
	cd test/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

browser-tools: $(CHROMIUM) test/browser/node_modules/.installed

# The environment every local run shares: where the tools are.
LOCAL_ENV := HERALD_MOTO_SERVER=$(MOTO_VENV)/bin/moto_server HERALD_RIE=$(BIN)/aws-lambda-rie HERALD_HOST_BUILD=$(HOST_BUILD)

# --- The local stack ---
dev: tools host-build
	$(LOCAL_ENV) $(GO) run ./tools/herald-dev up

invoke: tools host-build
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	@$(LOCAL_ENV) $(GO) run ./tools/herald-dev invoke -function $(FN) -event $(EVENT)

token:
	@test -n "$(PROJECT)" || { echo "usage: make token PROJECT=<id> [STACK=<stack name>] [LABEL=<text>]"; exit 2; }
	@$(GO) run ./tools/herald-token -project "$(PROJECT)" $(if $(STACK),-stack "$(STACK)") $(if $(LABEL),-label "$(LABEL)")

# --- Tests ---
test: tools host-build test/client/node_modules/.installed browser-tools
	$(LOCAL_ENV) HERALD_CHROMIUM=$(CHROMIUM) $(GO) test -count=1 -timeout 15m ./...

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

sam-validate: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

sam-build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build
	@for fn in $(FUNCTIONS); do \
	  f=.aws-sam/build/$$fn/bootstrap; \
	  machine=$$(readelf -h $$f | sed -n 's/^ *Machine: *//p'); \
	  echo "$$f: $$machine, $$(stat -c %s $$f) bytes"; \
	  case "$$machine" in *AArch64*) ;; *) echo "$$f is not arm64"; exit 1;; esac; \
	done

lint: vet staticcheck sam-validate
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi

clean:
	rm -rf .build .aws-sam .herald
