# Herald — the two commands a newcomer needs are `make demo` and `make test`.

SWIFT ?= swift
BIN := $(shell $(SWIFT) build --show-bin-path 2>/dev/null || echo .build/debug)
HERALD := $(BIN)/herald
DEMO_DIR := .demo

.PHONY: all build test demo demo-data clean bench format

all: build

build:
	$(SWIFT) build
	@scripts/install-plugins.sh "$(BIN)" plugins.d

## Run every test: unit tests and integration tests against the real herald binary.
test: build
	$(SWIFT) build --build-tests
	HERALD_BIN=$(abspath $(HERALD)) $(SWIFT) test --skip-build --parallel --num-workers 2

## Start Herald on the embedded default (SQLite) with the demo tenant and sample data loaded.
demo: build
	@scripts/demo.sh "$(HERALD)"

clean:
	rm -rf .build $(DEMO_DIR)

format:
	$(SWIFT) format --in-place --recursive Sources Tests Plugins Package.swift
