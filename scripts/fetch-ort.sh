#!/usr/bin/env bash
# Fetches ONNX Runtime's shared library from the npm package onnxruntime-node
# (npm is a registry this project can always reach; GitHub releases are not).
# `npm pack` downloads the tarball without running any install script; we
# check the tarball's sha256 before trusting anything inside it.
set -euo pipefail

ORT_NPM_VERSION=1.24.1
ORT_NPM_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
ORT_LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4

dest=${1:-.deps/onnxruntime}
lib="$dest/libonnxruntime.so.1"

if [ -f "$lib" ] && echo "$ORT_LIB_SHA256  $lib" | sha256sum -c --status; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-ort: npm is needed to fetch onnxruntime-node (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-ort: npm pack onnxruntime-node@$ORT_NPM_VERSION" >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null)
tgz="$tmp/onnxruntime-node-$ORT_NPM_VERSION.tgz"
echo "$ORT_NPM_SHA256  $tgz" | sha256sum -c --status || {
  echo "fetch-ort: checksum mismatch for $tgz: got $(sha256sum "$tgz" | cut -d' ' -f1), want $ORT_NPM_SHA256" >&2
  exit 1
}
tar -xzf "$tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
mkdir -p "$dest"
install -m 0644 "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.tmp"
echo "$ORT_LIB_SHA256  $lib.tmp" | sha256sum -c --status || { echo "fetch-ort: library checksum mismatch" >&2; exit 1; }
mv "$lib.tmp" "$lib"
echo "$ORT_NPM_VERSION" > "$dest/VERSION"
echo "fetch-ort: $lib (onnxruntime $ORT_NPM_VERSION)" >&2
