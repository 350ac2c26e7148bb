# vendor-player: refresh the xterm.js terminal widget vendored into
# replayweb/assets/vendor/xterm from the version pinned in
# package.json/package-lock.json (npm ci checks the tarball against the
# lock file's integrity hash), and write SHA256SUMS of what was copied,
# which replayweb's TestVendoredPlayerChecksums holds the tree to. Needs
# npm; `go build` never does.
PLAYER_DIR := replayweb/assets/vendor/xterm

.PHONY: vendor-player
vendor-player:
	@command -v npm >/dev/null || { echo "vendor-player: npm is needed to refresh the vendored player"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp package.json package-lock.json "$$tmp"/ && \
	( cd "$$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error ) && \
	pkg="$$tmp/node_modules/@xterm/xterm" && \
	rm -rf $(PLAYER_DIR) && mkdir -p $(PLAYER_DIR) && \
	sed '/^\/\/# sourceMappingURL=/d' "$$pkg/lib/xterm.js" > $(PLAYER_DIR)/xterm.js && \
	cp "$$pkg/css/xterm.css" "$$pkg/LICENSE" $(PLAYER_DIR)/ && \
	node -p "require('$$pkg/package.json').version" > $(PLAYER_DIR)/VERSION && \
	( cd $(PLAYER_DIR) && sha256sum LICENSE VERSION xterm.css xterm.js > SHA256SUMS ) && \
	echo "vendor-player: @xterm/xterm $$(cat $(PLAYER_DIR)/VERSION) -> $(PLAYER_DIR)"
