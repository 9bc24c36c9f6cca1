# mlads in a small image: a static binary on Debian slim.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/mlads ./cmd/mlads

FROM debian:bookworm-slim
COPY --from=build /out/mlads /usr/local/bin/mlads
COPY configs/ /etc/mlads/
ENTRYPOINT ["/usr/local/bin/mlads"]
CMD ["run", "--config", "/etc/mlads/mlads.yaml"]
