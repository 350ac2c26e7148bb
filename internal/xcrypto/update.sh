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
exec "$here/../patchmod.sh" "$here" golang.org/x/crypto crypto "$@"
