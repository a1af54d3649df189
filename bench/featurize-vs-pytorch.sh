#!/usr/bin/env bash
# featurize-vs-pytorch.sh: how fast `winnow featurize` turns JPEGs into
# features, next to (a) ONNX Runtime inference alone on ready-made tensors and
# (b) the usual PyTorch + PIL DataLoader pipeline, on the same models, images,
# batch size and thread budget. See bench/featurize/README.md.
#
#   bash bench/featurize-vs-pytorch.sh          # from the repository root
#
# Knobs (environment): THREADS (default 2: winnow's --threads and --workers,
# PyTorch's threads and DataLoader workers), BATCH (8, winnow's default), REPEAT (2 measured passes after one warm-up; best
# kept), TORCH_REPEAT (1: PyTorch's eager mode is slow, and its warm-up is
# only the first 64 images), RESIZE (pad or crop), MODELS ("resnet18
# mobilenet_v2"), SMALL (500) and LARGE (400) image counts, IMAGES (folder). Everything it makes goes to bench/out/ (ignored
# by git); the table is printed and saved as bench/out/featurize/results.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
REPEAT=${REPEAT:-2}
TORCH_REPEAT=${TORCH_REPEAT:-1}
RESIZE=${RESIZE:-pad}
MODELS=${MODELS:-"resnet18 mobilenet_v2"}
SMALL=${SMALL:-500}
LARGE=${LARGE:-400}
PY=/usr/bin/python3 # Debian's, which has python3-torch; a pyenv python3 on PATH does not
OUT=bench/out/featurize
MODELDIR=bench/out/models
IMAGES=${IMAGES:-bench/out/images}
mkdir -p "$OUT" "$MODELDIR"
log() { printf '== %s\n' "$*" >&2; }

# --- what it needs ----------------------------------------------------------
if ! "$PY" -c 'import torch, torchvision, onnx, PIL, numpy' 2>/dev/null; then
  log "installing Debian's PyTorch, torchvision, onnx and Pillow"
  [ "$(id -u)" = 0 ] || { echo "need root for apt-get (or install python3-torch python3-torchvision python3-onnx python3-pil)" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
    python3-torch python3-torchvision python3-onnx python3-pil python3-numpy >/dev/null
fi
log "building winnow and the ORT-only harness"
make build >&2
go build -o "$OUT/ortonly" ./bench/featurize/ortonly
go build -o "$OUT/decodeonly" ./bench/featurize/decodeonly

# --- models and images (made once, reused) ----------------------------------
for m in $MODELS; do
  if [ ! -s "$MODELDIR/$m.onnx" ] || [ ! -s "$MODELDIR/$m.onnx.json" ] || [ ! -s "$MODELDIR/$m.pt" ]; then
    log "exporting $m (random weights) to $MODELDIR"
    "$PY" bench/featurize/export_models.py "$MODELDIR" "$m" >&2
  fi
done
stamp="$IMAGES/.made-$SMALL-$LARGE"
if [ ! -e "$stamp" ]; then
  log "making $SMALL images of 500x375 and $LARGE of 4000x3000 in $IMAGES"
  rm -rf "$IMAGES"
  "$PY" bench/featurize/make_images.py "$IMAGES" --small "$SMALL" --large "$LARGE"
  touch "$stamp"
fi
cat "$IMAGES"/*/*.jpg >/dev/null # every pipeline reads from the page cache, none from disk

# --- runners: each prints one images/s number ---------------------------------
# best VALUES...: the largest number.
best() { printf '%s\n' "$@" | sort -g | tail -1; }
rate() { sed -n 's/.* \([0-9.][0-9.]*\) images\/s.*/\1/p' | tail -1; }
cpums() { sed -n 's/.* \([0-9.][0-9.]*\) CPU ms\/image.*/\1/p' | tail -1; }

# winnow's summary line: the rate after start-up, then the whole run's rate
# and the start-up's seconds (ONNX Runtime's first call on each lane).
winnow_rates() {
  sed -n 's/.* ok \([0-9]*\),.* \([0-9.]*\) s (start-up \([0-9.]*\) s), \([0-9.]*\) images\/s after start-up.*/\4 \1 \2 \3/p' |
    awk '{ printf "%s %.1f %s\n", $1, $2 / ($2 / $1 + $4), $4 }'
}
winnow_rate() { # model set: prints "rate whole-run-rate start-up-s" of the best pass
  local r=() i out="$OUT/$1-$2.parquet"
  for i in $(seq 0 "$REPEAT"); do # pass 0 is the warm-up
    rm -rf "$out" "$out.parts"
    if ! bin/winnow featurize "$IMAGES/$2" -o "$out" --model "$MODELDIR/$1.onnx" \
      --batch "$BATCH" --threads "$THREADS" --workers "$THREADS" --resize "$RESIZE" -q \
      2>"$OUT/winnow-$1-$2.log" || ! grep -q 'failed 0,' "$OUT/winnow-$1-$2.log"; then
      cat "$OUT/winnow-$1-$2.log" >&2
      exit 1
    fi
    [ "$i" = 0 ] || r+=("$(grep '^featurize: ok' "$OUT/winnow-$1-$2.log" | winnow_rates)")
  done
  printf '%s\n' "${r[@]}" | sort -g | tail -1
}
# ONNX Runtime alone at its best: one call at a time on THREADS intra-op
# threads, or THREADS calls at once on one thread each (the layout winnow
# uses). Prints "images/s CPU-ms-per-image": the better rate, the lower CPU.
# Over at least 256 images, a whole number of rounds of every lane: a rate,
# not the tail of a small set with one lane idle.
ort_rate() { # model n
  local a b step=$((BATCH * THREADS)) n=$2
  [ "$n" -ge 256 ] || n=256
  n=$(( (n + step - 1) / step * step ))
  a=$("$OUT/ortonly" --model "$MODELDIR/$1.onnx" --images "$n" --batch "$BATCH" --threads "$THREADS" --lanes 1 --repeat "$REPEAT" | tail -1)
  b=$("$OUT/ortonly" --model "$MODELDIR/$1.onnx" --images "$n" --batch "$BATCH" --threads 1 --lanes "$THREADS" --repeat "$REPEAT" | tail -1)
  printf '%s\n%s\n' "$a" "$b" >>"$OUT/ortonly.log"
  echo "$(best "$(echo "$a" | rate)" "$(echo "$b" | rate)") $(printf '%s\n' "$(echo "$a" | cpums)" "$(echo "$b" | cpums)" | sort -g | head -1)"
}
torch_rate() { # model set [extra flags]; agreement lines go to $OUT/agreement.txt
  local m=$1 set=$2
  shift 2
  "$PY" bench/featurize/torch_pipeline.py --model "$m" --weights "$MODELDIR/$m.pt" --dir "$IMAGES/$set" \
    --batch "$BATCH" --threads "$THREADS" --workers "$THREADS" --resize "$RESIZE" --repeat "$TORCH_REPEAT" "$@" \
    >"$OUT/torch.log"
  sed -n "s/^agreement: /$m, $set: /p" "$OUT/torch.log" >>"$OUT/agreement.txt"
  rate <"$OUT/torch.log"
}
torch_infer_rate() { # model n: at most 5 batches, which is plenty for a steady rate
  "$PY" bench/featurize/torch_pipeline.py --model "$1" --weights "$MODELDIR/$1.pt" --infer-only \
    --images "$(( $2 < 5 * BATCH ? $2 : 5 * BATCH ))" --warmup "$BATCH" \
    --batch "$BATCH" --threads "$THREADS" --repeat "$TORCH_REPEAT" | rate
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# --- measure --------------------------------------------------------------------
start=$SECONDS
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
limits=()
: >"$OUT/agreement.txt"
: >"$OUT/ortonly.log"
# Decoding and resizing alone, one thread, per image set: winnow's imageio
# (the DCT scale featurize picks) and PIL's draft() + the same pad resize.
declare -A dec pil
images_abs=$(realpath "$IMAGES")
for set in small large; do
  log "$set: decode + resize alone (winnow imageio; PIL draft)"
  dec[$set]=$("$OUT/decodeonly" --images "$IMAGES/$set" --size 224 --resize "$RESIZE" --repeat "$REPEAT" | cpums)
  pil[$set]=$(cd bench/featurize && "$PY" pil_draft.py "$images_abs/$set" --repeat "$REPEAT" | cpums)
done
for m in $MODELS; do
  for set in small large; do
    n=$(find "$IMAGES/$set" -name '*.jpg' | wc -l)
    label="500x375 JPEG"
    [ "$set" = large ] && label="4000x3000 JPEG (12 MP)"
    log "$m, $n x $label: winnow featurize"
    read -r w wall wstart < <(winnow_rate "$m" "$set")
    log "$m, $set: ONNX Runtime inference only"
    read -r o ocpu < <(ort_rate "$m" "$n")
    log "$m, $set: PyTorch + PIL DataLoader"
    # winnow's features of the same images, to check both pipelines compute the same thing
    bin/winnow features export "$OUT/$m-$set.parquet" -o "$OUT/$m-$set.csv"
    t=$(torch_rate "$m" "$set" --compare "$OUT/$m-$set.csv")
    log "$m, $set: PyTorch + PIL, tuned (Image.draft + TorchScript optimize_for_inference)"
    d=$(torch_rate "$m" "$set" --tuned)
    log "$m, $set: PyTorch inference only"
    ti=$(torch_infer_rate "$m" "$n")
    rows+=("| $m | $n × $label | **$w** | $wall ($wstart s) | $o | $t | $d | $ti | **$(ratio "$w" "$t")×** | $(ratio "$w" "$d")× | **$(ratio "$w" "$o")** |")
    # The pipeline limit: THREADS cores doing nothing but decode+resize and
    # inference, each at its cost measured alone.
    lim=$(awk -v c="$THREADS" -v a="${dec[$set]}" -v b="$ocpu" 'BEGIN { printf "%.1f", 1000 * c / (a + b) }')
    limits+=("| $m | $n × $label | ${dec[$set]} | ${pil[$set]} | $ocpu | $lim | $w | **$(ratio "$w" "$lim")** | $(ratio "$wall" "$lim") |")
  done
done

{
  echo "## winnow featurize vs ONNX Runtime alone vs PyTorch + PIL"
  echo
  echo "images/s, higher is better. winnow and ORT: best of $REPEAT passes after a full warm-up pass; PyTorch: best of"
  echo "$TORCH_REPEAT after a warm-up on the first 64 images. Batch $BATCH, resize $RESIZE to 224×224."
  echo "Thread budget on $(nproc) cores: winnow --threads $THREADS --workers $THREADS ($THREADS CPU slots shared by its decoders and"
  echo "inference calls); PyTorch torch.set_num_threads($THREADS) + DataLoader num_workers=$THREADS,"
  echo "$THREADS threads for both inference-only runs (ORT: the faster of one call on $THREADS threads and $THREADS calls on one each)."
  echo
  echo "winnow featurize: the rate its summary prints, after start-up (ONNX Runtime's first call on each lane, which"
  echo "allocates its memory; ORT alone's rate leaves out its warm-up pass likewise); whole run: from listing to the"
  echo "final Parquet file, start-up included (its seconds in brackets)."
  echo
  echo "| model | images | winnow featurize | winnow whole run (start-up) | ORT inference only (best layout) | PyTorch+PIL | PyTorch+PIL tuned | PyTorch inference only | winnow / PyTorch+PIL | winnow / PyTorch tuned | winnow / ORT only |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "### The pipeline limit"
  echo
  echo "CPU ms per image, each part measured alone: decode + resize on one thread (winnow's imageio at the DCT scale"
  echo "featurize picks; PIL with Image.draft() and the same $RESIZE resize), inference in ONNX Runtime alone (the lower"
  echo "of its two layouts). Limit: $THREADS cores / (decode + resize + inference) images/s."
  echo
  echo "| model | images | decode+resize, winnow | decode+resize, PIL draft | inference alone | pipeline limit | winnow featurize | winnow / limit | whole run / limit |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
  printf '%s\n' "${limits[@]}"
  echo
  echo "ONNX Runtime alone, both layouts (one call on $THREADS threads; $THREADS calls on one thread each):"
  echo
  sed 's/^/    /' "$OUT/ortonly.log"
  echo
  echo "PyTorch+PIL: eager model, full JPEG decode. Tuned: Image.draft() (reduced-DCT decode) and a frozen TorchScript"
  echo "model (torch.jit.optimize_for_inference). PyTorch inference only: the eager model on random tensors."
  echo
  echo "Same work? winnow's and PyTorch's features of the same images (centred cosine similarity; PyTorch"
  echo "decodes with PIL and resizes with Pillow's bilinear filter, so near 1 but not exactly):"
  echo
  sed 's/^/- /' "$OUT/agreement.txt"
  echo
  echo "$(bin/winnow version 2>/dev/null | head -1); ORT $("$OUT/ortonly" --model "$MODELDIR/${MODELS%% *}.onnx" --images 1 --batch 1 --repeat 1 | sed -n 's/.*ONNX Runtime \(.*\)/\1/p');" \
    "$("$PY" -c 'import torch, torchvision, PIL; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}")');" \
    "CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); measured in $((SECONDS - start)) s;" \
    "load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after (other processes on the machine skew the numbers)."
} | tee "$OUT/results.md"
