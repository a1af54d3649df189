#!/usr/bin/env bash
# train-memory.sh: peak memory and time of `winnow train` before and after
# the bounded-memory fit (issue 9, item 4), on the same data, back to back.
#
#   bash bench/train-memory.sh        # from the repository root
#
# Data (bench/train_memory, written once): N x D float32 features in a
# Parquet file written by internal/featstore, and a labels CSV, 10 classes.
# The features are a fixed Gaussian random projection + ReLU of
# Fashion-MNIST pixels (pooled to 14x14), not CNN embeddings: mobilenet-v2
# on 100,000 images would take hours on two shared cores. They have what
# matters here: the size, non-negative correlated columns, overlapping
# classes.
#
# Three measurements, each with /usr/bin/time -v (peak RSS, wall, user+sys
# CPU) and /proc/loadavg before and after, because other jobs share the
# machine:
#   large  all N rows. The new binary stops after MAX_ITER solver iterations
#          (--max-iter): a full fit at this size takes hours here, and memory
#          is reached in the first iteration. The old binary has no such flag
#          and ignores SIGTERM, so it is killed (SIGKILL) once its RSS has
#          stayed flat for PLATEAU seconds after it printed its row count,
#          i.e. with its float64 copies made and the solver running. Its
#          figure is a lower bound: with PLATEAU 30 at load 15 one run was
#          killed during the normalisation pass (flat RSS for 30 s, 3.9 GB),
#          before the normalised copy that took the next run to 6.7 GB.
#   small  the first SMALL rows, both binaries to convergence: the objectives
#          must agree to 1e-9 relative (the new path reads float32 and
#          normalises per tile; the old widened to float64 and made a
#          normalised copy), and their times are compared.
#   b      train-vs-peers' case (b), 2,000 x 1,280 (bench/train_peers/
#          winnowfit gen), REPEAT times each, old and new alternating:
#          `winnowfit fit` (linear.Fit on a float64 *mat.Dense, the path
#          simulate and select use) and `winnow train` on the same CSV.
#
# Knobs (environment): CASES ("large small b"), N (100000), D (1920),
# SMALL (3000), MAX_ITER (3),
# PLATEAU (90 s), REPEAT (3), OLD (609c6ad: the last commit before the
# bounded-memory fit that builds, cf63068 having half of a simulate change;
# linear and train are the same in both), built in a temporary git worktree. Output: bench/out/train-memory/
# (ignored by git), the summary also in results.md there.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

CASES=${CASES:-large small b}
N=${N:-100000}
D=${D:-1920}
SMALL=${SMALL:-3000}
MAX_ITER=${MAX_ITER:-3}
PLATEAU=${PLATEAU:-90}
REPEAT=${REPEAT:-3}
OLD=${OLD:-609c6ad}
OUT=bench/out/train-memory
mkdir -p "$OUT"
exec > >(tee "$OUT/results.log") 2>&1

[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist >/dev/null

go build -o "$OUT/winnow" ./cmd/winnow
go build -o "$OUT/winnowfit" ./bench/train_peers/winnowfit
old=$(git rev-parse --short "$OLD")
if [ ! -x "$OUT/winnow-$old" ]; then
	src=$(mktemp -d)
	trap 'git worktree remove --force "$src"' EXIT
	git worktree add --detach "$src" "$old" >/dev/null
	(cd "$src" && go build -o "$OLDPWD/$OUT/winnow-$old" ./cmd/winnow && go build -o "$OLDPWD/$OUT/winnowfit-$old" ./bench/train_peers/winnowfit)
	git worktree remove --force "$src"
	trap - EXIT
fi

data=$OUT/data-${N}x$D
if [ ! -e "$data/features.parquet" ]; then
	echo "generating $N x $D features in $data"
	go run ./bench/train_memory -n "$N" -d "$D" -out "$data"
fi
head -n $((SMALL + 1)) "$data/labels.csv" >"$OUT/labels-small.csv"
[ -e "$OUT/b/b.csv" ] || { mkdir -p "$OUT/b" && "$OUT/winnowfit" gen -out "$OUT/b" >/dev/null; }

matrix_mb=$(awk -v n="$N" -v d="$D" 'BEGIN { printf "%.0f", n * d * 4 / 1e6 }')
: >"$OUT/results.md"
row() { echo "$*" | tee -a "$OUT/results.md"; }

# timed NAME CMD...: runs CMD under /usr/bin/time -v, keeps its stdout and
# stderr in $OUT/NAME.out and .log, and prints "rss_mb wall_s cpu_s
# load_before load_after".
timed() {
	local name=$1
	shift
	local before after
	before=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" || true
	after=$(cut -d' ' -f1 /proc/loadavg)
	summarise "$name" "$before" "$after"
}

summarise() {
	awk -v b="$2" -v a="$3" -F': ' '
		/Maximum resident set size/ { rss = $2 / 1024 }
		/User time/ { cpu += $2 } /System time/ { cpu += $2 }
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
		END { printf "%.0f %.1f %.1f %s %s\n", rss, wall, cpu, b, a }' "$OUT/$1.time"
}

# killed_when_flat NAME CMD...: as timed, but SIGKILLs CMD once its RSS has
# not grown for PLATEAU seconds after "rows x" appeared in its stderr.
killed_when_flat() {
	local name=$1
	shift
	local before after pid child rss peak=0 flat=0
	before=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		child=$(pgrep -P "$pid" || true)
		[ -n "$child" ] || continue
		grep -q "rows x" "$OUT/$name.log" || continue
		rss=$(awk '/VmRSS/ { print $2 }' "/proc/$child/status" 2>/dev/null || echo 0)
		if [ "${rss:-0}" -gt "$peak" ]; then
			peak=$rss
			flat=0
		else
			flat=$((flat + 1))
		fi
		if [ "$flat" -ge "$PLATEAU" ]; then
			kill -KILL "$child"
			break
		fi
	done
	wait "$pid" || true
	after=$(cut -d' ' -f1 /proc/loadavg)
	summarise "$name" "$before" "$after"
}

objective() { python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["model"]["summary"]["objective"]))' "$1"; }
iterations() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["summary"]["iterations"])' "$1"; }

has() { [[ " $CASES " == *" $1 "* ]]; }

if has large; then
row "== large: $N x $D float32 features (matrix $matrix_mb MB; target peak RSS <= $((2 * matrix_mb)) MB), old = $old"
row "| binary | peak RSS MB | x matrix | wall s | CPU s | load before/after | note |"
row "|---|---|---|---|---|---|---|"
read -r rss wall cpu lb la < <(timed large-new "$OUT/winnow" train --features "$data/features.parquet" --labels "$data/labels.csv" \
	-o "$OUT/large-new.json" --max-iter "$MAX_ITER")
row "| new | $rss | $(awk -v r="$rss" -v m="$matrix_mb" 'BEGIN { printf "%.2f", r / m }') | $wall | $cpu | $lb / $la | stopped after --max-iter $MAX_ITER: $(grep -o 'after [0-9]* iterations' "$OUT/large-new.log" || echo 'see large-new.log') |"
read -r rss wall cpu lb la < <(killed_when_flat large-old "$OUT/winnow-$old" train --features "$data/features.parquet" \
	--labels "$data/labels.csv" -o "$OUT/large-old.json")
row "| old | $rss | $(awk -v r="$rss" -v m="$matrix_mb" 'BEGIN { printf "%.2f", r / m }') | $wall | $cpu | $lb / $la | killed once RSS was flat for $PLATEAU s in the fit |"
fi

if has small; then
row ""
row "== small: first $SMALL rows, both to convergence"
row "| binary | objective | iterations | peak RSS MB | wall s | CPU s | load before/after |"
row "|---|---|---|---|---|---|---|"
for v in new old; do
	bin=$OUT/winnow
	[ "$v" = old ] && bin=$OUT/winnow-$old
	read -r rss wall cpu lb la < <(timed "small-$v" "$bin" train --features "$data/features.parquet" --labels "$OUT/labels-small.csv" -o "$OUT/small-$v.json")
	row "| $v | $(objective "$OUT/small-$v.json") | $(iterations "$OUT/small-$v.json") | $rss | $wall | $cpu | $lb / $la |"
done
rel=$(python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2g" % (abs(a - b) / max(abs(a), abs(b))))' \
	"$(objective "$OUT/small-new.json")" "$(objective "$OUT/small-old.json")")
row "relative objective difference: $rel (contract: <= 1e-9)"
fi

if has b; then
row ""
row "== b: 2,000 x 1,280, 10 classes, best of $REPEAT runs, new and old alternating (winnowfit times its fit call only, train the whole process)"
row "| run | binary | best wall s | best CPU s | iterations | CPU ms / iteration | loads |"
row "|---|---|---|---|---|---|---|"
declare -A best_w best_c its loads
for r in $(seq "$REPEAT"); do
	for what in winnowfit train; do
		for v in new old; do
			key=$what-$v
			if [ "$what" = winnowfit ]; then
				bin=$OUT/winnowfit
				[ "$v" = old ] && bin=$OUT/winnowfit-$old
				read -r rss wall cpu lb la < <(timed "b-$key" "$bin" fit -in "$OUT/b/b.csv" -coef "$OUT/b/coef-$v.csv")
				its[$key]=$(grep -o 'iterations=[0-9]*' "$OUT/b-$key.out" | cut -d= -f2)
				wall=$(grep -o 'seconds=[0-9.]*' "$OUT/b-$key.out" | cut -d= -f2)
				cpu=$(grep -o 'cpu=[0-9.]*' "$OUT/b-$key.out" | cut -d= -f2)
			else
				bin=$OUT/winnow
				[ "$v" = old ] && bin=$OUT/winnow-$old
				read -r rss wall cpu lb la < <(timed "b-$key" "$bin" train --features "$OUT/b/b.csv" --labels "$OUT/b/b.csv" -o "$OUT/b/model-$v.json")
				its[$key]=$(iterations "$OUT/b/model-$v.json")
			fi
			best_w[$key]=$(awk -v a="${best_w[$key]:-1e9}" -v b="$wall" 'BEGIN { print (b < a) ? b : a }')
			best_c[$key]=$(awk -v a="${best_c[$key]:-1e9}" -v b="$cpu" 'BEGIN { print (b < a) ? b : a }')
			loads[$key]="${loads[$key]:-} $lb/$la"
		done
	done
done
for what in winnowfit train; do
	for v in new old; do
		key=$what-$v
		row "| $what | $v | ${best_w[$key]} | ${best_c[$key]} | ${its[$key]} | $(awk -v c="${best_c[$key]}" -v i="${its[$key]}" 'BEGIN { printf "%.1f", (i > 0) ? 1000 * c / i : 0 }') |${loads[$key]} |"
	done
done
fi
