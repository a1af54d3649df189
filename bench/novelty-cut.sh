#!/usr/bin/env bash
# novelty-cut.sh: how often the novelty cut flags images like the labelled
# ones, and how far above it real photos land, for a growing number of
# labels: the README's novelty-cut table.
#
#   bash bench/novelty-cut.sh          # from the repository root
#
# Fashion-MNIST: the first 3,000 training images (tools/fmnist-export),
# featurized with MODEL (mobilenet-v2); for each n in SIZES the first n
# images of labels.csv train a model, the last 1,000 (never labelled) are
# scored with predict, and the photos of testdata/images (photos/, plus
# orient-1.jpg, gray.jpg and cmyk.jpg) are scored apart. Prints, per n, the
# cut, the share of held-out garments above it and the least novel photo's
# novelty over the cut. Output under bench/out/novelty-cut/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-mobilenet-v2}
SIZES=${SIZES:-20 50 100 200 500 1000 2000}
OUT=bench/out/novelty-cut
if [ -z "${WINNOW:-}" ]; then
  make -s build >&2
  WINNOW=bin/winnow
fi
mkdir -p "$OUT/photos"
printf 'load average before: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$OUT/f.parquet" ]; then
  go run ./tools/fmnist-export -o "$OUT/images" -train 3000 -test 0 >/dev/null
  "$WINNOW" featurize "$OUT/images" -o "$OUT/f.parquet" --model "$MODEL" -q
fi
for p in photos/china.jpg photos/flower.jpg photos/grace_hopper.jpg orient/orient-1.jpg formats/gray.jpg formats/cmyk.jpg; do
  cp "testdata/images/$p" "$OUT/photos/"
done
"$WINNOW" featurize "$OUT/photos" -o "$OUT/photos.parquet" --model "$MODEL" -q
tail -n +2 "$OUT/images/labels.csv" | cut -d, -f1,2 > "$OUT/all.csv"
{ echo path,label; sed -n 2001,3000p "$OUT/all.csv"; } > "$OUT/held.csv"
printf '| labels | cut | held-out garments above the cut | least novel photo / cut | train s |\n|---|---|---|---|---|\n'
for n in $SIZES; do
  { echo path,label; head -n "$n" "$OUT/all.csv"; } > "$OUT/train-$n.csv"
  start=$(date +%s.%N)
  "$WINNOW" train --features "$OUT/f.parquet" --labels "$OUT/train-$n.csv" -o "$OUT/m-$n.json" 2>/dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  "$WINNOW" predict --model "$OUT/m-$n.json" --features "$OUT/f.parquet" -o "$OUT/held-$n.csv" 2>/dev/null
  "$WINNOW" predict --model "$OUT/m-$n.json" --features "$OUT/photos.parquet" -o "$OUT/photos-$n.csv" 2>/dev/null
  python3 - "$OUT" "$n" "$secs" <<'EOF'
import csv, json, sys
out, n, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
cut = json.load(open(f"{out}/m-{n}.json"))["novelty"]["cut"]
held = {r["path"] for r in csv.DictReader(open(f"{out}/held.csv"))}
v = [float(r["novelty"]) for r in csv.DictReader(open(f"{out}/held-{n}.csv")) if r["path"] in held]
ph = [float(r["novelty"]) for r in csv.DictReader(open(f"{out}/photos-{n}.csv"))]
print(f"| {n} | {cut:.3g} | {100 * sum(x > cut for x in v) / len(v):.1f}% of {len(v)} | {min(ph) / cut:.1f} | {secs:.1f} |")
EOF
done
printf 'load average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
