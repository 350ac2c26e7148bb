# jumpcast — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       ?= bin/jumpcast
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
CONFIG    ?= $(wildcard jumpcast.yaml)
# Debian packages the tests drive for real: a target sshd, the OpenSSH
# clients, rsync, Debian's asciinema (the v2 reader), Chromium for the player,
# and script(1) to give asciinema a tty.
TEST_PKGS := openssh-server openssh-client rsync asciinema chromium bsdutils procps tmux
TEST_BINS := /usr/sbin/sshd /usr/bin/ssh /usr/bin/scp /usr/bin/sftp /usr/bin/ssh-agent /usr/bin/rsync /usr/bin/asciinema /usr/bin/chromium /usr/bin/script /usr/bin/tmux

.PHONY: all build run test test-deps test-short vet clean

.DEFAULT_GOAL := all

include replayweb/player.mk
# Targets owned by their folders: bench (bench/), test-faults and lint
# (internal/faulttest/), demo (internal/demo/).
-include bench/bench.mk
-include internal/faulttest/faults.mk
-include internal/demo/demo.mk

all: build

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/jumpcast

## run: start the bastion on the embedded default (./data, generated host key, SSH :2222, web 127.0.0.1:8080)
run: build
	./$(BIN) serve $(if $(CONFIG),-c $(CONFIG))

## test-deps: install what the tests drive for real, when it is missing
test-deps:
	@missing=""; for b in $(TEST_BINS); do [ -x $$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
		echo "test-deps: missing$$missing; installing $(TEST_PKGS)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(TEST_PKGS) >/dev/null; \
	fi

## test: every test, over real protocols (installs test-deps first)
test: test-deps
	$(GO) vet ./...
	JUMPCAST_REQUIRE_REAL=1 $(GO) test -count=1 -timeout 18m ./...

## test-short: the in-process tests only
test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
