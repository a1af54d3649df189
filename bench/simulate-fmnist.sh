#!/usr/bin/env bash
# Evidence for the query strategies: replay active learning on Fashion-MNIST
# (Debian's dataset-fashion-mnist), pool = the first POOL training images,
# test = the first TEST test images, starting from 2 labels per class, 10
# rounds of 20, every strategy on each of REPEATS paired draws (initial set and
# seed redrawn, the test set fixed); once on the default backbone's features and
# once on raw pixels. Prints the load average before and after: the machine's
# other work slows the replays.
#
#   bash bench/simulate-fmnist.sh              # reports in bench/out/sim/<features>/report.html
#   REPEATS=10 bash bench/simulate-fmnist.sh   # fewer draws, about half the time
#   WINNOW=/path/to/winnow bash ...            # a binary built elsewhere (skips make build)
set -euo pipefail
cd "$(dirname "$0")/.."
POOL=${POOL:-3000}
TEST=${TEST:-2000}
REPEATS=${REPEATS:-20}
STRATEGIES=${STRATEGIES:-entropy,least-confidence,margin,coreset,badge,committee,random}
BACKBONES=${BACKBONES:-mobilenet-v2 pixels:28x28:gray}
OUT=bench/out/sim
WINNOW=${WINNOW:-}
if [ -z "$WINNOW" ]; then
  make build >/dev/null
  WINNOW=bin/winnow
fi
if [ ! -f "$OUT/images/labels.csv" ]; then
  go run ./tools/fmnist-export -o "$OUT/images" -train "$POOL" -test "$TEST"
fi
awk -F, 'NR == 1 { print "path" } $3 == "test" { print $1 }' "$OUT/images/labels.csv" > "$OUT/test.csv"
for bb in $BACKBONES; do
  name=${bb%%:*}
  "$WINNOW" featurize "$OUT/images" -o "$OUT/$name.parquet" --model "$bb" -q
  echo "loadavg before $name: $(cat /proc/loadavg)"
  /usr/bin/time -f "$name: %e s wall, %U s user, %M KB max RSS" "$WINNOW" simulate --features "$OUT/$name.parquet" --labels "$OUT/images/labels.csv" --test "$OUT/test.csv" \
    --initial-per-class 2 --batch 20 --rounds 10 --strategies "$STRATEGIES" --repeats "$REPEATS" --seed 1 \
    --out "$OUT/$name"
  echo "loadavg after $name: $(cat /proc/loadavg)"
done
