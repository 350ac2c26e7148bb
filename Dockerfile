# jumpcast in a container: a static binary on distroless, as a non-root user.
#
#   docker build -t jumpcast --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d --name jumpcast -p 2222:2222 -p 127.0.0.1:8080:8080 \
#       -v jumpcast-data:/data -v $PWD/jumpcast.yaml:/etc/jumpcast/jumpcast.yaml:ro jumpcast
#
# The mounted config must keep the data in the volume and listen on all of
# the container's interfaces (the defaults are ./data and 127.0.0.1:8080):
#
#   data_dir: /data
#   ssh:  { listen: ":2222" }
#   web:  { listen: ":8080" }
#
# Files the config names (upstream.identity_files, web.tls_cert/tls_key,
# known_hosts) must be mounted too and readable by uid 65532. A bind mount
# for /data must be owned by 65532. Manage it with the same binary:
#
#   docker exec -it jumpcast /usr/local/bin/jumpcast auditor add carol --admin -c /etc/jumpcast/jumpcast.yaml
#   docker exec jumpcast /usr/local/bin/jumpcast recordings ls -c /etc/jumpcast/jumpcast.yaml
#
# Reload policy: docker kill -s HUP jumpcast. Stop: docker stop -t 30 jumpcast
# (SIGTERM; sessions get ssh.shutdown_grace). See docs/operators.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# The player's assets are vendored under replayweb/assets: no npm here.
RUN CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/jumpcast ./cmd/jumpcast \
 && mkdir -p /out/data /out/etc/jumpcast \
 && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jumpcast /usr/local/bin/jumpcast
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/etc/jumpcast /etc/jumpcast
USER 65532:65532
VOLUME ["/data"]
EXPOSE 2222 8080
ENTRYPOINT ["/usr/local/bin/jumpcast", "serve", "-c", "/etc/jumpcast/jumpcast.yaml"]
