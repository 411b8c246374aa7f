# mavis — build, test and benchmark entry points.
#   make test    set up the test dependencies (root; scripts/test-deps.sh), then run every test,
#                integration tests included (they fail instead of skipping when a service is missing)
#   make run     run the daemon with its embedded defaults
#   make bench   end-to-end load test: smtp-sink directly vs. through mavisd (bench/)
#   make build   build the binaries into bin/

GO ?= go
BIN ?= bin
BENCH_FLAGS ?=

.PHONY: all test test-deps run bench build vet clean

all: build

test-deps:
	scripts/test-deps.sh

test: test-deps
	MAVIS_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 ./...

run:
	$(GO) run ./cmd/mavisd

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...

bench: build
	$(GO) run ./bench/cmd/mavis-bench -mavisd $(BIN)/mavisd $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)
