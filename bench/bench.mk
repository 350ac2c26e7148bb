# Benchmark targets, included from the Makefile. See bench/README.md.
# `make bench` is not part of `make test`: it takes minutes and its numbers
# are read by people, not asserted.

# Included near the top of the Makefile: keep its default goal as it was.
bench_saved_default_goal := $(.DEFAULT_GOAL)

BENCH_FLAGS ?=
BENCH_BINS  := bin/jumpcast-norec bin/jumpcast-tcprelay bin/jumpcast-bench

.PHONY: bench bench-quick bench-profile bench-bins bench-floor

# bench-bins: the benchmark-only bastion (built like the product) and the harness.
bench-bins:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/jumpcast-norec ./bench/cmd/jumpcast-norec
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/jumpcast-tcprelay ./bench/cmd/jumpcast-tcprelay
	$(GO) build -o bin/jumpcast-bench ./bench/cmd/jumpcast-bench

## bench: direct OpenSSH vs ProxyJump vs jumpcast (recording on/off), one interleaved run; JSON in bench/results/
bench: build test-deps bench-bins
	./bin/jumpcast-bench -jumpcast $(BIN) $(BENCH_FLAGS)

## bench-quick: the same, about 10× smaller (a minute or two)
bench-quick: build test-deps bench-bins
	./bin/jumpcast-bench -jumpcast $(BIN) -quick $(BENCH_FLAGS)

## bench-floor: jumpcast against a bare x/crypto relay (bench/cmd/jumpcast-floor, in the jc-norec column) and a plain Go TCP relay (tcp-relay): echo, bulk, setup
bench-floor: build test-deps bench-bins
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/jumpcast-floor ./bench/cmd/jumpcast-floor
	./bin/jumpcast-bench -jumpcast $(BIN) -norec bin/jumpcast-floor -paths direct,proxyjump,jc-rec,jc-norec,tcp-relay -only echo,bulk,setup $(BENCH_FLAGS)

## bench-profile: bench with a perf profile of the recording bastion during the PTY text run (needs perf)
bench-profile: test-deps bench-bins
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-X main.version=$(VERSION) -X main.commit=$(COMMIT)' -o bin/jumpcast-symbols ./cmd/jumpcast
	./bin/jumpcast-bench -jumpcast bin/jumpcast-symbols -perf bench/results/perf-$$(date -u +%Y%m%dT%H%M%SZ).data $(BENCH_FLAGS)

# bench-player: the web player in a real Chromium, this tree's chunked page
# against the whole-file asciinema-player page of PLAYER_BASELINE (the last
# commit that had it), both built here from git, on generated recordings.
PLAYER_BASELINE     ?= 2318b1e
PLAYER_BENCH_FLAGS  ?=
PLAYER_BENCH_BINS   := bin/jumpcast-playerbench bin/jumpcast-seedcast bin/jumpcast-baseline

.PHONY: bench-player bench-player-bins
bench-player-bins:
	$(GO) build -o bin/jumpcast-playerbench ./bench/cmd/jumpcast-playerbench
	$(GO) build -o bin/jumpcast-seedcast ./bench/cmd/jumpcast-seedcast
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	git archive $(PLAYER_BASELINE) | tar -x -C "$$tmp" && \
	mkdir -p "$$tmp/bench/cmd/jumpcast-seedcast" && cp bench/cmd/jumpcast-seedcast/main.go "$$tmp/bench/cmd/jumpcast-seedcast/" && \
	( cd "$$tmp" && CGO_ENABLED=0 $(GO) build -trimpath -o "$(CURDIR)/bin/jumpcast-baseline" ./cmd/jumpcast && \
	  $(GO) build -o "$(CURDIR)/bin/jumpcast-seedcast-baseline" ./bench/cmd/jumpcast-seedcast ) && \
	echo "bench-player-bins: baseline $(PLAYER_BASELINE) -> bin/jumpcast-baseline"

## bench-player: first frame, seek p99 and JS heap of the web player (10 MB and 2 GB recordings) against the whole-file player; JSON in bench/results/
bench-player: build test-deps bench-player-bins
	./bin/jumpcast-playerbench -jumpcast $(BIN) -baseline bin/jumpcast-baseline $(PLAYER_BENCH_FLAGS)

.DEFAULT_GOAL := $(bench_saved_default_goal)
