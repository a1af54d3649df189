#!/usr/bin/env bash
# Evidence for the query strategies: replay active learning on Fashion-MNIST
# (Debian's dataset-fashion-mnist), pool = the first POOL training images,
# test = the first TEST test images, starting from 2 labels per class, 10
# rounds of 20, every strategy against 20 replays of random; once on the
# default backbone's features and once on raw pixels.
#
#   bash bench/simulate-fmnist.sh     # reports in bench/out/sim/<features>/report.html
set -euo pipefail
cd "$(dirname "$0")/.."
POOL=${POOL:-3000}
TEST=${TEST:-2000}
REPEATS=${REPEATS:-20}
STRATEGIES=${STRATEGIES:-entropy,least-confidence,margin,coreset,badge,committee,random}
BACKBONES=${BACKBONES:-mobilenet-v2 pixels:28x28:gray}
OUT=bench/out/sim
make build >/dev/null
if [ ! -f "$OUT/images/labels.csv" ]; then
  go run ./tools/fmnist-export -o "$OUT/images" -train "$POOL" -test "$TEST"
fi
awk -F, 'NR == 1 { print "path" } $3 == "test" { print $1 }' "$OUT/images/labels.csv" > "$OUT/test.csv"
for bb in $BACKBONES; do
  name=${bb%%:*}
  bin/winnow featurize "$OUT/images" -o "$OUT/$name.parquet" --model "$bb" -q
  bin/winnow simulate --features "$OUT/$name.parquet" --labels "$OUT/images/labels.csv" --test "$OUT/test.csv" \
    --initial-per-class 2 --batch 20 --rounds 10 --strategies "$STRATEGIES" --repeats "$REPEATS" --seed 1 \
    --out "$OUT/$name"
done
