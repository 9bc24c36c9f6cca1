# mlads in a small image: a static binary on Debian slim, run as the
# unprivileged user mlads (uid 10001) with its state in /var/lib/mlads.
#
# Live capture needs CAP_NET_RAW and nothing else (AF_PACKET with its ring,
# fanout and promiscuous mode; see configs/mlads.service). A non-root user
# gets no capability from Docker, so the capture service of
# docker-compose.yml runs as root in the container with every capability
# dropped but NET_RAW; the log-reading service runs as mlads with none.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/mlads ./cmd/mlads

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 mlads \
 && useradd --system --uid 10001 --gid mlads --home-dir /var/lib/mlads --shell /usr/sbin/nologin mlads \
 && install -d -o mlads -g mlads -m 0750 /var/lib/mlads
COPY --from=build /out/mlads /usr/local/bin/mlads
COPY configs/ /etc/mlads/
USER mlads:mlads
WORKDIR /var/lib/mlads
VOLUME ["/var/lib/mlads"]
# run.metrics_listen: /metrics and /healthz (loopback unless configured)
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/mlads"]
CMD ["run", "--config", "/etc/mlads/mlads.yaml"]
