#!/usr/bin/env bash
# Rebuilds internal/uvpatch/third_party/ultraviolet, jumpcast's copy of github.com/charmbracelet/ultraviolet:
# the release named in UPSTREAM, fetched from the Go module proxy, with
# patches/*.patch applied in order (git apply). go.mod replaces
# github.com/charmbracelet/ultraviolet with that folder.
#
#   internal/uvpatch/update.sh           rebuild the folder (after changing UPSTREAM or a patch)
#   internal/uvpatch/update.sh --check   fail if the folder is not exactly UPSTREAM + patches (make lint)
#
# To move to a new release: put its version in UPSTREAM, run this, fix any
# patch that no longer applies (regenerate it with diff -ruN a b), run
# `make test-uvpatch` (ultraviolet's own tests) and `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/UPSTREAM")
go=${GO:-go}
src=$(cd "${TMPDIR:-/tmp}" && GOFLAGS= "$go" mod download -json "github.com/charmbracelet/ultraviolet@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update.sh: github.com/charmbracelet/ultraviolet@$version not downloaded" >&2; exit 1; }
out=$(mktemp -d)
trap 'chmod -R u+w "$out"; rm -rf "$out"' EXIT
cp -R "$src" "$out/ultraviolet"
chmod -R u+w "$out/ultraviolet"
for p in "$here"/patches/*.patch; do
	(cd "$out/ultraviolet" && git apply -p1 --whitespace=nowarn "$p") ||
		{ echo "update.sh: $(basename "$p") does not apply to ultraviolet $version" >&2; exit 1; }
done
if [ "${1:-}" = "--check" ]; then
	if ! diff -r "$out/ultraviolet" "$here/third_party/ultraviolet" >/dev/null; then
		echo "internal/uvpatch/third_party/ultraviolet is not github.com/charmbracelet/ultraviolet $version + patches/: run internal/uvpatch/update.sh" >&2
		diff -rq "$out/ultraviolet" "$here/third_party/ultraviolet" >&2 || true
		exit 1
	fi
	echo "internal/uvpatch/third_party/ultraviolet is github.com/charmbracelet/ultraviolet $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
	exit 0
fi
rm -rf "$here/third_party/ultraviolet"
cp -R "$out/ultraviolet" "$here/third_party/ultraviolet"
echo "internal/uvpatch/third_party/ultraviolet: github.com/charmbracelet/ultraviolet $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
