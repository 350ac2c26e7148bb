# vendor-player: refresh the asciinema-player bundle vendored into
# replayweb/assets/vendor/asciinema-player from the version pinned in
# package.json/package-lock.json. Needs npm; `go build` never does.
PLAYER_DIR := replayweb/assets/vendor/asciinema-player

.PHONY: vendor-player
vendor-player:
	@command -v npm >/dev/null || { echo "vendor-player: npm is needed to refresh the vendored player"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp package.json package-lock.json "$$tmp"/ && \
	( cd "$$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error ) && \
	pkg="$$tmp/node_modules/asciinema-player" && \
	mkdir -p $(PLAYER_DIR) && \
	cp "$$pkg/dist/bundle/asciinema-player.min.js" "$$pkg/dist/bundle/asciinema-player.css" "$$pkg/LICENSE" $(PLAYER_DIR)/ && \
	node -p "require('$$pkg/package.json').version" > $(PLAYER_DIR)/VERSION && \
	echo "vendor-player: asciinema-player $$(cat $(PLAYER_DIR)/VERSION) -> $(PLAYER_DIR)"
