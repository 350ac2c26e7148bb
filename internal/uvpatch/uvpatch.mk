# jumpcast's copy of github.com/charmbracelet/ultraviolet (internal/uvpatch/README.md).

## test-uvpatch: ultraviolet's own test suite, run on the patched copy jumpcast builds with
test-uvpatch:
	cd internal/uvpatch/third_party/ultraviolet && $(GO) test -count=1 ./...

## uvpatch-check: the copy is exactly the release in UPSTREAM plus patches/ (nothing edited by hand)
uvpatch-check:
	GO=$(GO) internal/uvpatch/update.sh --check
