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
exec "$here/../patchmod.sh" "$here" github.com/charmbracelet/ultraviolet ultraviolet "$@"
