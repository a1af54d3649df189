#!/usr/bin/env bash
# install-tree.sh PREFIX: lays out an installed winnow under PREFIX (used by
# `make install` and `make dist`): bin/winnow, lib/winnow/ (ONNX Runtime and
# the libjpeg the binary was linked against), share/winnow/backbones/.
set -euo pipefail
prefix=$1
cd "$(dirname "$0")/.."
install -d "$prefix/bin" "$prefix/lib/winnow" "$prefix/share/winnow/backbones"
install -m 0755 bin/winnow "$prefix/bin/winnow"
install -m 0644 .deps/onnxruntime/libonnxruntime.so.1 "$prefix/lib/winnow/"
# The libjpeg winnow links (found through its rpath, $ORIGIN/../lib/winnow).
jpeg=$(ldd bin/winnow | awk '/libjpeg/ { print $3 }')
[ -n "$jpeg" ] && install -m 0644 "$jpeg" "$prefix/lib/winnow/"
install -m 0644 .deps/backbones/*.onnx .deps/backbones/*.onnx.json "$prefix/share/winnow/backbones/"
echo "installed winnow in $prefix (bin/winnow, lib/winnow, share/winnow/backbones)"
