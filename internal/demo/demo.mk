# make demo: a throw-away jumpcast in front of a local demo target (loopback
# only), with a demo auditor; prints the ssh line and the web address.
# Ctrl-C stops it and deletes its folder. DEMO_FLAGS='-keep' keeps it;
# bin/jumpcast-demo -h lists the rest.
DEMO_FLAGS ?=

.PHONY: demo
## demo: start jumpcast with a demo target and a demo auditor, print how to use them
demo: build
	$(GO) build -trimpath -o bin/jumpcast-demo ./internal/demo/cmd/jumpcast-demo
	./bin/jumpcast-demo -jumpcast ./$(BIN) $(DEMO_FLAGS)
