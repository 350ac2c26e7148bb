#!/usr/bin/env bash
# Rebuilds internal/xcrypto/third_party/crypto, jumpcast's copy of golang.org/x/crypto:
# the release named in UPSTREAM, fetched from the Go module proxy, with
# patches/*.patch applied in order (git apply). go.mod replaces
# golang.org/x/crypto with that folder.
#
#   internal/xcrypto/update.sh           rebuild the folder (after changing UPSTREAM or a patch)
#   internal/xcrypto/update.sh --check   fail if the folder is not exactly UPSTREAM + patches (make lint)
#
# To move to a new release: put its version in UPSTREAM, run this, fix any
# patch that no longer applies (regenerate it with diff -ruN a b), run
# `make test-xcrypto` (x/crypto's own ssh tests) and `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/UPSTREAM")
go=${GO:-go}
src=$(cd "${TMPDIR:-/tmp}" && GOFLAGS= "$go" mod download -json "golang.org/x/crypto@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update.sh: golang.org/x/crypto@$version not downloaded" >&2; exit 1; }
out=$(mktemp -d)
trap 'chmod -R u+w "$out"; rm -rf "$out"' EXIT
cp -R "$src" "$out/crypto"
chmod -R u+w "$out/crypto"
for p in "$here"/patches/*.patch; do
	(cd "$out/crypto" && git apply -p1 --whitespace=nowarn "$p") ||
		{ echo "update.sh: $(basename "$p") does not apply to x/crypto $version" >&2; exit 1; }
done
if [ "${1:-}" = "--check" ]; then
	if ! diff -r "$out/crypto" "$here/third_party/crypto" >/dev/null; then
		echo "internal/xcrypto/third_party/crypto is not golang.org/x/crypto $version + patches/: run internal/xcrypto/update.sh" >&2
		diff -rq "$out/crypto" "$here/third_party/crypto" >&2 || true
		exit 1
	fi
	echo "internal/xcrypto/third_party/crypto is golang.org/x/crypto $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
	exit 0
fi
rm -rf "$here/third_party/crypto"
cp -R "$out/crypto" "$here/third_party/crypto"
echo "internal/xcrypto/third_party/crypto: golang.org/x/crypto $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
