# Fault tests (issue 7): the bastion killed under load, byte-exact under
# concurrency, no leaks after many sessions (internal/faulttest), and targets
# and admins that misbehave (internal/faulttest/misbehave). Loopback only,
# bounded by -timeout; -v so each test's figures (sessions, bytes, seconds,
# RSS) are in the log.
.PHONY: test-faults

## test-faults: the fault tests, over real sshd/ssh/asciinema (installs test-deps first)
test-faults: test-deps
	JUMPCAST_REQUIRE_REAL=1 $(GO) test -tags faults -count=1 -timeout 12m -v ./internal/faulttest/...
