#!/usr/bin/env bash
# Time simulate on the workshop-sized case: 650 labelled images (the first 650
# of Fashion-MNIST's training split, Debian's dataset-fashion-mnist) as 576-d
# mobilenet-v2-b13 features (the nearest built-in to the workshop's 512-d
# features), 10 rounds of 8, 7 strategies, 20 paired draws.
#   drawn:    --test-fraction 0.25 and --initial-per-class 2 redrawn per draw,
#             so all 7 strategies run on all 20 draws (140 replays, 20 full models);
#   fixed:    the workshop's protocol, --test and --initial files: the 4
#             deterministic strategies run once, the other 3 on 20 draws.
# Prints wall and CPU time with the load average before and after: the
# machine's other work slows it down.
#
#   bash bench/simulate-workshop.sh             # reports in bench/out/sim-workshop/<protocol>/
#   WINNOW=/path/to/winnow bash ...             # a binary built elsewhere (skips make build)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-20}
PROTOCOLS=${PROTOCOLS:-drawn fixed}
STRATEGIES=entropy,least-confidence,margin,coreset,badge,committee,random
OUT=bench/out/sim-workshop
WINNOW=${WINNOW:-}
if [ -z "$WINNOW" ]; then
  make build >/dev/null
  WINNOW=bin/winnow
fi
if [ ! -f "$OUT/images/labels.csv" ]; then
  go run ./tools/fmnist-export -o "$OUT/images" -train 650 -test 0
fi
"$WINNOW" featurize "$OUT/images" -o "$OUT/b13.parquet" --model mobilenet-v2-b13 -q
# The fixed protocol's sets: every 4th image is a test image (162); the
# initial set is the first 2 of each class among the others.
awk -F, 'NR == 1 { print "path" } NR > 1 && NR % 4 == 0 { print $1 }' "$OUT/images/labels.csv" > "$OUT/test.csv"
awk -F, 'NR == 1 { print "path" } NR > 1 && NR % 4 != 0 && seen[$2]++ < 2 { print $1 }' "$OUT/images/labels.csv" > "$OUT/initial.csv"
for protocol in $PROTOCOLS; do
  if [ "$protocol" = fixed ]; then
    split=(--test "$OUT/test.csv" --initial "$OUT/initial.csv")
  else
    split=(--test-fraction 0.25 --initial-per-class 2)
  fi
  echo "loadavg before $protocol: $(cat /proc/loadavg)"
  /usr/bin/time -f "$protocol: %e s wall, %U s user, %S s system, %M KB max RSS" "$WINNOW" simulate \
    --features "$OUT/b13.parquet" --labels "$OUT/images/labels.csv" "${split[@]}" \
    --batch 8 --rounds 10 --repeats "$REPEATS" --seed 1 --strategies "$STRATEGIES" --out "$OUT/$protocol"
  echo "loadavg after $protocol: $(cat /proc/loadavg)"
done
