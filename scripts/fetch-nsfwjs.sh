#!/usr/bin/env bash
# Fetches the Keras models that the npm package nsfwjs (MIT, (c) 2019 Infinite
# Red) ships as TF.js layers models wrapped in .min.js files, for
# `winnow backbone import-tfjs` and its faithfulness test (internal/tfjs).
# `npm pack` downloads the tarball without running any install script; we
# check the tarball's sha256 before extracting anything from it.
#
# Usage: scripts/fetch-nsfwjs.sh [DEST]   (default DEST: .deps/nsfwjs)
# Result: DEST/{mobilenet_v2,mobilenet_v2_mid,inception_v3}/model.min.js + shards,
# and DEST/VERSION. Re-running with DEST present and verified does nothing.
set -euo pipefail

NSFWJS_VERSION=4.4.0
NSFWJS_SHA256=585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382

dest=${1:-.deps/nsfwjs}
stamp="$dest/VERSION"

# The stamp holds the version and the tarball digest it was extracted from;
# it is written last, so its presence means a complete extraction.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$NSFWJS_VERSION $NSFWJS_SHA256" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-nsfwjs: npm is needed to fetch nsfwjs (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-nsfwjs: npm pack nsfwjs@$NSFWJS_VERSION" >&2
(cd "$tmp" && npm pack --silent "nsfwjs@$NSFWJS_VERSION" >/dev/null)
tgz="$tmp/nsfwjs-$NSFWJS_VERSION.tgz"
echo "$NSFWJS_SHA256  $tgz" | sha256sum -c --status || {
  echo "fetch-nsfwjs: checksum mismatch for $tgz: got $(sha256sum "$tgz" | cut -d' ' -f1), want $NSFWJS_SHA256" >&2
  exit 1
}
tar -xzf "$tgz" -C "$tmp" package/dist/models package/LICENSE
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
cp -R "$tmp/package/dist/models/." "$dest.tmp/"
cp "$tmp/package/LICENSE" "$dest.tmp/LICENSE"
echo "$NSFWJS_VERSION $NSFWJS_SHA256" > "$dest.tmp/VERSION"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "fetch-nsfwjs: $dest (nsfwjs $NSFWJS_VERSION)" >&2
