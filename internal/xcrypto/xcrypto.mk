# jumpcast's copy of golang.org/x/crypto (internal/xcrypto/README.md).

## test-xcrypto: x/crypto's own ssh test suite, run on the patched copy jumpcast builds with
test-xcrypto:
	cd internal/xcrypto/third_party/crypto && $(GO) test -count=1 ./ssh/...

## xcrypto-check: the copy is exactly the release in UPSTREAM plus patches/ (nothing edited by hand)
xcrypto-check:
	GO=$(GO) internal/xcrypto/update.sh --check
