#!/usr/bin/env bash
# Linear probes of candidate backbone layers on Fashion-MNIST (Debian's
# dataset-fashion-mnist): featurize POOL training and TEST test images with
# every candidate tap of nsfwjs' MobileNetV2 and InceptionV3 and with raw
# pixels, then for 30/100/300/1000 class-balanced labels (5 draws each)
# choose (l1, l2) by cross-validation, fit and score the test set, all with
# winnow's own pipeline, solver and metrics. Prints a markdown table.
#
#   bash bench/backbone-probe.sh            # POOL=3000 TEST=2000
#   POOL=1000 TEST=1000 bash bench/backbone-probe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
POOL=${POOL:-3000}
TEST=${TEST:-2000}
DRAWS=${DRAWS:-5}
SIZES=${SIZES:-30,100,300,1000}
OUT=${OUT:-bench/out/probe}
make deps >/dev/null
if [ ! -f "$OUT/images/labels.csv" ] || [ "$(wc -l < "$OUT/images/labels.csv")" -ne $((POOL + TEST + 1)) ]; then
  rm -rf "$OUT"
  go run ./tools/fmnist-export -o "$OUT/images" -train "$POOL" -test "$TEST"
fi
go run ./bench/probe -images "$OUT/images" -out "$OUT" -sizes "$SIZES" -draws "$DRAWS" ${ONLY:+-only "$ONLY"}
