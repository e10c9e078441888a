# Portcullis build and test entry points. Everything a brand-new Debian 12 machine needs is
# installed by `make setup` (scripts/setup.sh); `make test` is what CI runs (.ci/run).
#
#   make setup      apt packages, frontend npm modules, Go tools (./bin)
#   make build      frontend + bin/portcullisd + bin/portcullis-desktop
#   make serve      run portcullisd on https://127.0.0.1:8080 with data in ./.data
#   make run        setup + build, then the desktop app (with a display) or portcullisd
#   make lint       gofmt, go vet, staticcheck (plain and with the desktop tags)
#   make test       setup, services, frontend, lint, Go + frontend tests, e2e, desktop smoke
#   make bench      benchmarks of ./backend/... and ./bench/..., sshbench (gateway, web terminal),
#                   the recording player in Chromium (replay.mjs), desktop-bench
#   make fuzz       every fuzz target for $(FUZZTIME)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# Steps share bin/ and frontend/dist: run them in order even under -j.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

GO ?= go
BIN := $(CURDIR)/bin
# The desktop binary must be built with these tags: without them Wails compiles a stub that
# exits at once. main.go only builds with them, so `go build .` fails loudly instead.
DESKTOP_TAGS := desktop,production,webkit2_41
STATICCHECK := $(BIN)/staticcheck
DATA_DIR ?= $(CURDIR)/.data
HTTP_ADDR ?= 127.0.0.1:8080
FUZZTIME ?= 20s
GO_TEST_TIMEOUT ?= 20m
export PORTCULLIS_TEST_PG_DSN ?= host=127.0.0.1 user=postgres dbname=postgres sslmode=disable

# Inputs of the frontend build: dist/index.html is rebuilt when one of them is newer.
FRONTEND_DIST := frontend/dist/index.html
FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	$(wildcard frontend/index.html frontend/package.json frontend/package-lock.json \
	frontend/vite.config.ts frontend/tsconfig*.json)

.PHONY: all setup services frontend backend desktop build serve run lint fmt-check vet \
	staticcheck test test-go test-frontend e2e smoke bench fuzz clean

all: build

setup:
	scripts/setup.sh

services:
	scripts/services.sh

# --- build -----------------------------------------------------------------------------------

NEED_NODE_MODULES = @test -d frontend/node_modules || { echo "frontend/node_modules missing: run make setup"; exit 1; }

frontend:
	$(NEED_NODE_MODULES)
	cd frontend && npm run build

$(FRONTEND_DIST): $(FRONTEND_SRC)
	$(NEED_NODE_MODULES)
	cd frontend && npm run build
	touch $@

backend: $(FRONTEND_DIST)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/portcullisd ./backend/cmd/portcullisd

desktop: $(FRONTEND_DIST)
	CGO_ENABLED=1 $(GO) build -tags $(DESKTOP_TAGS) -o $(BIN)/portcullis-desktop .

build: frontend backend desktop

# --- run -------------------------------------------------------------------------------------

serve: backend
	@scripts/run.sh serve "$(BIN)/portcullisd" "$(DATA_DIR)" "$(HTTP_ADDR)"

run: setup build
	@scripts/run.sh auto "$(BIN)/portcullisd" "$(DATA_DIR)" "$(HTTP_ADDR)" "$(BIN)/portcullis-desktop"

# --- checks ----------------------------------------------------------------------------------

lint: fmt-check vet staticcheck

# gofmt over the module's own files (git-tracked or new, never frontend/node_modules).
fmt-check:
	@files=$$(git ls-files --cached --others --exclude-standard -- '*.go'); \
	bad=$$(gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$bad"; exit 1; fi; \
	echo "gofmt: ok"

# ./... skips the root package (main.go builds only with the desktop tags), so the desktop
# code is vetted a second time with its tags; package app builds either way.
vet:
	$(GO) vet ./...
	$(GO) vet -tags $(DESKTOP_TAGS) . ./app

staticcheck:
	@test -x $(STATICCHECK) || { echo "staticcheck missing: run make setup"; exit 1; }
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags $(DESKTOP_TAGS) . ./app

# The protocol-level fake guacd of the browser tests (guacd is not packaged in Debian).
$(BIN)/fakeguacd: $(wildcard backend/guacgw/*.go backend/guacgw/fakeguacd/*.go backend/guacgw/fakeguacd/cmd/fakeguacd/*.go)
	CGO_ENABLED=0 $(GO) build -o $@ ./backend/guacgw/fakeguacd/cmd/fakeguacd

test-go:
	$(GO) test -timeout $(GO_TEST_TIMEOUT) ./...

test-frontend:
	$(NEED_NODE_MODULES)
	cd frontend && npm test

e2e: $(BIN)/fakeguacd
	@if [ -d frontend/e2e ]; then cd frontend && npm run e2e; \
	else echo "e2e: frontend/e2e does not exist, skipping"; fi

smoke: $(BIN)/fakeguacd
	scripts/desktop-smoke.sh

test: setup services frontend lint test-go test-frontend backend e2e smoke

# The SSH gateway against direct OpenSSH (bench/sshbench, 15 to 25 minutes: it waits up to a minute
# for the bastion to index each 1 GiB recording before the next transfer): the table is also
# written to artifacts/bench-ssh.txt; SSHBENCH_FLAGS passes options (e.g. -profile=artifacts/pprof).
# The recording player (frontend/e2e/bench/replay.mjs, about a minute): seek and first frame in
# Chromium on a generated 1-hour, 100 MB recording (bench/castgen), to artifacts/bench-replay.txt.
bench:
	@mkdir -p artifacts
	$(GO) test -run '^$$' -bench . -benchmem ./backend/... ./bench/... 2>&1 | tee artifacts/bench.txt
	$(GO) run ./bench/sshbench -out artifacts/bench-ssh.txt $(SSHBENCH_FLAGS)
	$(MAKE) --no-print-directory backend
	$(GO) build -o $(BIN)/castgen ./bench/castgen
	cd frontend && node e2e/bench/replay.mjs --out $(CURDIR)/artifacts/bench-replay.txt
	$(MAKE) --no-print-directory desktop
	scripts/desktop-bench.sh

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)/portcullisd $(BIN)/portcullis-desktop artifacts
