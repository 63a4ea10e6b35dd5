# Herald — the two commands a newcomer needs are `make demo` and `make test`.

SWIFT ?= swift
BIN := $(shell $(SWIFT) build --show-bin-path 2>/dev/null || echo .build/debug)
HERALD := $(BIN)/herald
DEMO_DIR := .demo

.PHONY: all setup setup-test build test console-screenshots demo demo-cluster clean bench bench-quick format

all: build

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build: setup
	$(SWIFT) build
	@scripts/install-plugins.sh "$(BIN)" plugins.d

## Run every test: unit tests and integration tests against the real herald binary.
# GLIBC_TUNABLES: Foundation's Process.run in Swift 6.3.1 copies 256 bytes from each /proc/self/fd entry glibc reads,
# past the end of glibc's buffer, and crashes when that buffer ends at the end of the heap
# (swift-corelibs-foundation PR 5472, fixed after 6.3.1). The tests start hundreds of processes; one arena with a
# 16 MiB top pad keeps mapped memory behind that buffer. See docs/testing.md.
test: setup-test build
	$(SWIFT) build --build-tests
	GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.top_pad=16777216 \
	HERALD_BIN=$(abspath $(HERALD)) $(SWIFT) test --skip-build --parallel --num-workers 2

## Run the console's browser scenarios alone and refresh the screenshots docs/console.md shows (Debian's
# python3-selenium is for /usr/bin/python3).
console-screenshots: setup-test build
	HERALD_BIN=$(abspath $(HERALD)) /usr/bin/python3 Tests/Console/console_scenarios.py --screenshots docs/console

## Start Herald on the embedded default (SQLite) with the demo tenant and sample data loaded.
demo: build
	@scripts/demo.sh "$(HERALD)"

## Three nodes on one PostgreSQL behind nginx, with the demo tenant and sample data (needs postgresql and nginx).
demo-cluster: build
	@scripts/demo-cluster.sh "$(HERALD)"

## Benchmarks (release build): every scenario prints throughput, latency percentiles and peak RSS.
bench: setup-test
	$(SWIFT) build -c release
	mkdir -p bench-results
	.build/release/herald-bench --json bench-results/latest.jsonl $(BENCH_ARGS)

## A few seconds per scenario, to keep the benchmark code working (CI runs this; figures are not checked).
bench-quick: setup-test
	$(SWIFT) build -c release
	mkdir -p bench-results
	.build/release/herald-bench --quick --json bench-results/quick.jsonl
	.build/release/herald-bench --quick --scenarios ingest,delivery,cluster --store postgres --json bench-results/quick.jsonl

clean:
	rm -rf .build $(DEMO_DIR)

format:
	$(SWIFT) format --in-place --recursive Sources Tests Plugins Package.swift
