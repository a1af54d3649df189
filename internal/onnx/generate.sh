#!/usr/bin/env bash
# Regenerates onnx.pb.go from onnx.proto.
#
# onnx.proto is copied verbatim (Apache-2.0) from Debian bookworm's
# python3-onnx 1.12.0 (/usr/lib/python3/dist-packages/onnx/onnx.proto,
# IR version 8), so regenerating needs only Debian packages and the Go proxy:
#   apt-get install protobuf-compiler          # protoc 3.21.12
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -euo pipefail
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc --go_out=. --go_opt=paths=source_relative \
  --go_opt=Monnx.proto='github.com/winnowml/winnow/internal/onnx;onnx' onnx.proto
