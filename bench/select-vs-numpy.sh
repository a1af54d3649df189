#!/usr/bin/env bash
# select-vs-numpy.sh: how long `winnow select --strategy entropy -n 8` takes on
# a large pool, next to (a) merely reading the same Parquet file with
# featstore's batch loop (the floor: select cannot beat reading its input),
# and (b) numpy computing the same scores and top 8 from a .npy copy of the
# features (numpy reads a flat float32 file, not Parquet; its load time is
# shown apart).
#
#   bash bench/select-vs-numpy.sh          # from the repository root
#
# Knobs (environment): ROWS (default 1000000), DIM (512), CLASSES (10),
# LABELLED (2000 rows labelled by a hidden linear teacher, which
# `winnow train` fits the model on), N (8), REPEAT (3 runs of each, the best
# wall time kept). Data goes to bench/out/select/ (ignored by git; about
# 2 x ROWS x DIM x 4 bytes) and is made once. Results are printed and saved
# as bench/out/select/results.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
DIM=${DIM:-512}
CLASSES=${CLASSES:-10}
LABELLED=${LABELLED:-2000}
N=${N:-8}
REPEAT=${REPEAT:-3}
PY=/usr/bin/python3 # Debian's, with python3-numpy; a pyenv python3 on PATH lacks it
OUT=bench/out/select
DATA=$OUT/${ROWS}x${DIM}
mkdir -p "$DATA"
log() { printf '== %s\n' "$*" >&2; }

if ! "$PY" -c 'import numpy' 2>/dev/null; then
  log "installing Debian's numpy"
  [ "$(id -u)" = 0 ] || { echo "need root for apt-get (or install python3-numpy)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 python3-numpy >/dev/null
fi
[ -x /usr/bin/time ] || { echo "need GNU time (/usr/bin/time, Debian package time)" >&2; exit 1; }

log "building winnow and the data tool"
go build -o "$OUT/winnow" ./cmd/winnow
go build -o "$OUT/tool" ./bench/select/tool

if [ ! -s "$DATA/pool.parquet" ] || [ ! -s "$DATA/pool.npy" ] || [ ! -s "$DATA/labels.csv" ]; then
  log "making $ROWS x $DIM features (Parquet and .npy) in $DATA"
  "$OUT/tool" gen -rows "$ROWS" -dim "$DIM" -classes "$CLASSES" -labelled "$LABELLED" -out "$DATA"
fi
if [ ! -s "$DATA/model.json" ]; then
  log "training the model on $LABELLED labelled rows"
  "$OUT/winnow" train --features "$DATA/pool.parquet" --labels "$DATA/labels.csv" -o "$DATA/model.json"
fi
log "warming the page cache"
cat "$DATA/pool.parquet" "$DATA/pool.npy" >/dev/null

# timed OUTFILE CMD...: runs CMD under GNU time; OUTFILE gets
# "wall user sys maxrss_kb".
timed() {
  local out=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$out" "$@"
}
best_read=; best_sel=; best_np=; np_load=; np_score=
for r in $(seq "$REPEAT"); do
  log "run $r of $REPEAT"
  timed "$OUT/t.read" "$OUT/tool" read "$DATA/pool.parquet" >/dev/null 2>&1
  timed "$OUT/t.sel" "$OUT/winnow" select --model "$DATA/model.json" --features "$DATA/pool.parquet" \
    --strategy entropy -n "$N" -o "$OUT/next.csv" 2>"$OUT/select.log"
  timed "$OUT/t.np" "$PY" bench/select/numpy_select.py "$DATA/model.json" "$DATA/pool.npy" "$N" >"$OUT/numpy.json"
  read -r w u s m <"$OUT/t.read"
  if [ -z "$best_read" ] || awk "BEGIN{exit !($w < ${best_read%% *})}"; then best_read="$w $u $s $m"; fi
  read -r w u s m <"$OUT/t.sel"
  if [ -z "$best_sel" ] || awk "BEGIN{exit !($w < ${best_sel%% *})}"; then best_sel="$w $u $s $m"; fi
  read -r w u s m <"$OUT/t.np"
  if [ -z "$best_np" ] || awk "BEGIN{exit !($w < ${best_np%% *})}"; then
    best_np="$w $u $s $m"
    np_load=$("$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["load_s"])' "$OUT/numpy.json")
    np_score=$("$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["score_s"])' "$OUT/numpy.json")
  fi
done

# Same picks? numpy's row i is img/%07d.jpg.
same=$("$PY" - "$OUT/next.csv" "$OUT/numpy.json" <<'EOF'
import csv, json, sys
w = [r["path"] for r in csv.DictReader(open(sys.argv[1]))]
n = ["img/%07d.jpg" % i for i in json.load(open(sys.argv[2]))["top"]]
print("yes" if w == n else "NO: winnow %s, numpy %s" % (w, n))
EOF
)

read -r rw ru rs rm <<<"$best_read"
read -r sw su ss sm <<<"$best_sel"
read -r nw nu ns nm <<<"$best_np"
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
mb=$(awk "BEGIN{printf \"%.0f\", $ROWS * $DIM * 4 / 1e6}")
{
  echo "# winnow select vs reading vs numpy"
  echo
  echo "$ROWS x $DIM float32 features ($mb MB of floats; Parquet $(du -h "$DATA/pool.parquet" | cut -f1), .npy $(du -h "$DATA/pool.npy" | cut -f1)),"
  echo "$CLASSES classes, entropy, top $N; best wall time of $REPEAT runs, page cache warm; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| run | wall s | cpu s (user+sys) | max RSS MB |"
  echo "|---|---|---|---|"
  echo "| read Parquet (featstore batch loop) | $rw | $(awk "BEGIN{print $ru+$rs}") | $((rm / 1024)) |"
  echo "| winnow select | $sw | $(awk "BEGIN{print $su+$ss}") | $((sm / 1024)) |"
  echo "| numpy, from .npy (load $np_load s + score $np_score s) | $nw | $(awk "BEGIN{print $nu+$ns}") | $((nm / 1024)) |"
  echo
  echo "select / read: $(ratio "$sw" "$rw") (wall), $(ratio "$(awk "BEGIN{print $su+$ss}")" "$(awk "BEGIN{print $ru+$rs}")") (cpu); target: within 2x"
  echo "select / numpy: $(ratio "$sw" "$nw") (wall, numpy reading .npy, not Parquet)"
  echo "same picks as numpy: $same"
} | tee "$OUT/results.md"
