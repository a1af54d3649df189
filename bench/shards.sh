#!/usr/bin/env bash
# shards.sh: what a cluster of featurize shards costs, measured on this
# machine so a user can size a Kubernetes Indexed Job or a Slurm array.
#
#   bash bench/shards.sh          # from the repository root
#
# It measures (a) images/s with 1, 2 and 4 shard processes running at once
# over the same Fashion-MNIST PNGs (each shard one inference thread and one
# decoder, so P shards use P cores), and (b) the fixed cost of one shard:
# start-up, model load and the empty merge, timed on a one-image shard.
# From those it projects the wall time of 1,000,000 images on N nodes like
# this one (one 1-core shard per core). Knobs (environment): IMAGES (400),
# MODEL (mobilenet-v2), CORES_PER_NODE (2), WINNOW (binary; default: make
# build). Output under bench/out/shards/ (ignored by git); the table is
# printed and saved as bench/out/shards/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-400}
MODEL=${MODEL:-mobilenet-v2}
CORES_PER_NODE=${CORES_PER_NODE:-2}
OUT=bench/out/shards
if [ -z "${WINNOW:-}" ]; then
  make -s build >&2
  WINNOW=bin/winnow
fi
mkdir -p "$OUT"
log() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }

if [ ! -f "$OUT/images/manifest.txt" ] || [ "$(wc -l <"$OUT/images/manifest.txt")" != "$IMAGES" ]; then
  log "exporting $IMAGES Fashion-MNIST test images"
  rm -rf "$OUT/images"
  go run ./tools/fmnist-export -o "$OUT/images" -train 0 -test "$IMAGES" >&2
  (cd "$OUT/images" && find . -name '*.png' | sed 's#^\./##' | sort >manifest.txt)
fi
manifest=$OUT/images/manifest.txt
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# (b) fixed cost: a shard with one image, best of 3.
head -n1 "$manifest" >"$OUT/images/one.txt"
fixed=999
for _ in 1 2 3; do
  rm -rf "$OUT/fixed"
  t0=$(now)
  "$WINNOW" featurize "$OUT/images/one.txt" --shard 0/1 -o "$OUT/fixed/" --model "$MODEL" --threads 1 --workers 1 -q 2>/dev/null
  t=$(echo "$(now) - $t0" | bc -l)
  fixed=$(echo "if ($t < $fixed) $t else $fixed" | bc -l)
done
log "fixed cost per shard: $(printf %.2f "$fixed") s"

# (a) P shards at once over the whole manifest.
declare -A rate
for P in 1 2 4; do
  rm -rf "$OUT/p$P"
  t0=$(now)
  pids=()
  for ((i = 0; i < P; i++)); do
    "$WINNOW" featurize "$manifest" --shard "$i/$P" -o "$OUT/p$P/" --model "$MODEL" --threads 1 --workers 1 -q 2>"$OUT/p$P.$i.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  t=$(echo "$(now) - $t0" | bc -l)
  "$WINNOW" features merge "$OUT/p$P" -o "$OUT/p$P.parquet" --manifest "$manifest" 2>/dev/null
  rate[$P]=$(echo "$IMAGES / $t" | bc -l)
  log "$P shard(s): $(printf %.1f "$t") s, $(printf %.1f "${rate[$P]}") images/s"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Per node: CORES_PER_NODE one-core shards, i.e. the measured rate with that
# many shards at once (falls back to 1 shard x cores).
node_rate=${rate[$CORES_PER_NODE]:-$(echo "${rate[1]} * $CORES_PER_NODE" | bc -l)}
{
  echo "| shards at once (1 core each) | images/s | per shard |"
  echo "|--:|--:|--:|"
  for P in 1 2 4; do
    printf '| %d | %.1f | %.1f |\n' "$P" "${rate[$P]}" "$(echo "${rate[$P]} / $P" | bc -l)"
  done
  echo
  printf 'Fixed cost per shard (start-up, %s load, one image): %.2f s. ' "$MODEL" "$fixed"
  printf 'Load average (1, 5, 15 min) before: %s, after: %s on %s cores.\n\n' "$load_before" "$load_after" "$(nproc)"
  echo "| nodes ($CORES_PER_NODE cores, $CORES_PER_NODE shards each) | projected wall time for 1,000,000 images |"
  echo "|--:|--:|"
  for N in 1 10 50 100 500; do
    s=$(echo "$fixed + 1000000 / ($N * $node_rate)" | bc -l)
    if (($(echo "$s >= 3600" | bc -l))); then
      printf '| %d | %.1f h |\n' "$N" "$(echo "$s / 3600" | bc -l)"
    else
      printf '| %d | %.0f min |\n' "$N" "$(echo "$s / 60" | bc -l)"
    fi
  done
} | tee "$OUT/results.md"
