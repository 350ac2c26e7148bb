#!/usr/bin/env bash
# Rebuilds a patched copy of a Go module for internal/xcrypto and
# internal/uvpatch: the release named in DIR/UPSTREAM, fetched from the Go
# module proxy, with DIR/patches/*.patch applied in order (git apply), into
# DIR/third_party/NAME (go.mod replaces MODULE with that folder).
#
#   internal/patchmod.sh DIR MODULE NAME           rebuild the folder
#   internal/patchmod.sh DIR MODULE NAME --check   fail if the folder is not exactly UPSTREAM + patches (make lint)
#
# Each folder's update.sh calls this with its own arguments.
set -euo pipefail
here=$1 module=$2 name=$3
shift 3
rel=${here#"$(pwd)/"}
folder="$rel/third_party/$name"
version=$(tr -d '[:space:]' < "$here/UPSTREAM")
go=${GO:-go}
src=$(cd "${TMPDIR:-/tmp}" && GOFLAGS= "$go" mod download -json "$module@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update.sh: $module@$version not downloaded" >&2; exit 1; }
out=$(mktemp -d)
trap 'chmod -R u+w "$out"; rm -rf "$out"' EXIT
cp -R "$src" "$out/$name"
chmod -R u+w "$out/$name"
for p in "$here"/patches/*.patch; do
	(cd "$out/$name" && git apply -p1 --whitespace=nowarn "$p") ||
		{ echo "update.sh: $(basename "$p") does not apply to $module $version" >&2; exit 1; }
done
if [ "${1:-}" = "--check" ]; then
	if ! diff -r "$out/$name" "$here/third_party/$name" >/dev/null; then
		echo "$folder is not $module $version + patches/: run $rel/update.sh" >&2
		diff -rq "$out/$name" "$here/third_party/$name" >&2 || true
		exit 1
	fi
	echo "$folder is $module $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
	exit 0
fi
rm -rf "$here/third_party/$name"
cp -R "$out/$name" "$here/third_party/$name"
echo "$folder: $module $version + $(ls "$here"/patches/*.patch | wc -l) patch(es)"
