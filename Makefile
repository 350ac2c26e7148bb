# jumpcast — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       ?= bin/jumpcast
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
CONFIG    ?= $(wildcard jumpcast.yaml)
# Debian packages the tests drive for real: a target sshd, the OpenSSH
# clients, rsync, Debian's asciinema (the v2 reader), Chromium for the player,
# script(1) to give asciinema a tty, haproxy and rsyslog for the PROXY
# protocol and syslog tests, and the third-party SSH clients of the
# compatibility suite (cmd/jumpcast/clients_*_test.go): PuTTY's tools,
# dropbear's dbclient, sshpass, paramiko, asyncssh and ansible-core; and
# PostgreSQL for the shared index (internal/pgtest runs it from
# /usr/lib/postgresql/<major>/bin).
# TEST_BINS are files those packages install (the Python modules' folders too).
TEST_PKGS := openssh-server openssh-client rsync asciinema chromium bsdutils procps tmux haproxy rsyslog rsyslog-gnutls \
	putty-tools dropbear-bin sshpass python3-paramiko python3-asyncssh ansible-core postgresql zstd
TEST_BINS := /usr/sbin/sshd /usr/bin/ssh /usr/bin/scp /usr/bin/sftp /usr/bin/ssh-agent /usr/bin/rsync /usr/bin/asciinema /usr/bin/chromium /usr/bin/script /usr/bin/tmux /usr/sbin/haproxy /usr/sbin/rsyslogd \
	/usr/bin/plink /usr/bin/pscp /usr/bin/psftp /usr/bin/puttygen /usr/bin/dbclient /usr/bin/dropbearconvert /usr/bin/sshpass \
	/usr/lib/python3/dist-packages/paramiko /usr/lib/python3/dist-packages/asyncssh /usr/bin/ansible \
	/usr/lib/postgresql/*/bin/postgres /usr/bin/zstdcat

.PHONY: all build run test test-deps test-short vet lint fuzz clean test-xcrypto xcrypto-check test-uvpatch uvpatch-check test-race

.DEFAULT_GOAL := all

include replayweb/player.mk
# Targets owned by their folders: bench (bench/), test-faults
# (internal/faulttest/), demo (internal/demo/). lint and fuzz are below.
-include bench/bench.mk
-include internal/faulttest/faults.mk
-include internal/demo/demo.mk
include internal/xcrypto/xcrypto.mk
include internal/uvpatch/uvpatch.mk

all: build

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/jumpcast

## run: start the bastion on the embedded default (./data, generated host key, SSH :2222, web 127.0.0.1:8080)
run: build
	./$(BIN) serve $(if $(CONFIG),-c $(CONFIG))

## test-deps: install what the tests drive for real, when it is missing
test-deps:
	@missing=""; for b in $(TEST_BINS); do [ -e $$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
		echo "test-deps: missing$$missing; installing $(TEST_PKGS)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(TEST_PKGS) >/dev/null; \
	fi
	@# the single sign-on tests' OpenID provider (internal/oidctest), built once into the user cache
	@$(GO) run ./internal/oidctest/build >/dev/null
	@# the bucket tests' S3-compatible server (internal/s3test: versitygw), built once into the user cache
	@$(GO) run ./internal/s3test/build >/dev/null

## test: every test, over real protocols (installs test-deps first)
test: test-deps
	$(GO) vet ./...
	JUMPCAST_REQUIRE_REAL=1 $(GO) test -count=1 -timeout 18m ./...
	$(MAKE) --no-print-directory test-xcrypto
	$(MAKE) --no-print-directory test-uvpatch
	$(MAKE) --no-print-directory test-race

## test-race: the race detector over the recorder (its queue, the compressed writer, keyframe screens and their emulator goroutines) and the recordings opener; -short scales the long property tests down (about 80 s here)
test-race:
	$(GO) test -race -short -count=1 ./recorder/... ./internal/recfiles/

## test-short: the in-process tests only
test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

# Linters are pinned and run with `go run`, so nothing is installed by hand.
# staticcheck 0.8.x is the release line that understands Go 1.26.
STATICCHECK     ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK_CMD ?= golang.org/x/vuln/cmd/govulncheck@v1.9.0
GOVULNCHECK     ?= 0

## lint: go vet (plain and -tags faults) and staticcheck; GOVULNCHECK=1 adds govulncheck (needs the online vulnerability database)
lint: xcrypto-check uvpatch-check
	$(GO) vet ./...
	$(GO) vet -tags faults ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags faults ./internal/faulttest/...
ifeq ($(GOVULNCHECK),1)
	$(GO) run $(GOVULNCHECK_CMD) ./...
endif

# Fuzz targets as package:Target; `go test -fuzz` takes one package and one
# target per run, so they run one after the other, FUZZTIME each. Crashers
# land in the package's testdata/fuzz/<Target>/: commit them with the fix.
FUZZTIME     ?= 10s
# Fuzzing runs on Go 1.27.3 (fetched once from the module proxy, ~10 s): Go
# 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" as -fuzztime ends (go.dev/issue/75804, fixed in 1.27; seen in our
# CI on FuzzEnvAllowed with no crasher). Everything else stays on go.mod's Go.
FUZZ_GO      ?= GOTOOLCHAIN=go1.27.3 $(GO)
FUZZ_TARGETS := ./proxy:FuzzParseLogin ./proxy:FuzzKindOf ./proxy:FuzzEnvAllowed ./proxy:FuzzTargetModes \
	./config:FuzzParse \
	./recorder:FuzzSFTPWatch \
	./recorder/asciicast:FuzzReader ./recorder/asciicast:FuzzUTF8Carry ./recorder/asciicast:FuzzBinarySummary \
	./recorder/asciicast:FuzzAppendJSONString ./recorder/asciicast:FuzzSanitize

## fuzz: every fuzz target for FUZZTIME (default 10s) each, sequentially
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(FUZZ_GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

clean:
	rm -rf bin
