#!/usr/bin/env bash
# cv-vs-glmnet.sh: `winnow train --cv 3` against R's
# cv.glmnet(alpha = 0.5, nfolds = 3, family = "multinomial") over its default
# 100 lambdas, on the same rows of default-backbone (mobilenet-v2, 1,920
# features) Fashion-MNIST features, normalised the way train's auto
# normalisation does (each column divided by its largest |value| over the
# labelled rows; glmnet then runs with standardize = FALSE).
#
#   bash bench/cv-vs-glmnet.sh          # from the repository root
#
# For each size in SIZES (default "200 2000" training rows, the first rows of
# Fashion-MNIST's training set, 10 classes) it reports:
#   - winnow's whole train command (load, CV path, final fit) and its CV
#     alone (the "(N s)" of its last cv line), wall and CPU seconds;
#   - cv.glmnet's call alone (no CSV reading), wall and CPU seconds;
#   - the quality check: the pair the path CV chose, looked up in the table of
#     the tight full-grid search winnow did before (BASE, a git revision,
#     default the commit before the path CV), as a ratio to that table's best
#     loss. Within 1.01 is the target. BASE_TIMEOUT (default 3600 s) bounds
#     that old search; a timed-out one is reported as such. Its table
#     (base-N.json) is made once and reused while it is newer than the BASE
#     binary and the labels.
# The machine's load average is printed around every timing: the machine is
# shared, and both tools slow down alike under load.
#
# Features are cached in bench/out/cv/ (and taken from bench/out/sim/ when
# simulate-fmnist.sh already made them); featurizing 2,000 images with
# mobilenet-v2 takes minutes.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

SIZES=${SIZES:-200 2000}
BASE=${BASE:-902cdd1}
BASE_TIMEOUT=${BASE_TIMEOUT:-3600}
OUT=bench/out/cv
mkdir -p "$OUT"
exec > >(tee "$OUT/results.log") 2>&1

need=()
command -v Rscript >/dev/null && Rscript -e 'library(glmnet)' >/dev/null 2>&1 || need+=(r-base-core r-cran-glmnet)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
fi

# Both binaries are built from committed trees, so other work in progress in
# the checkout does not leak in.
build() { # rev dest
	local dir
	dir=$(mktemp -d)
	git archive "$1" | tar -x -C "$dir"
	(cd "$dir" && go build -o "$OLDPWD/$2" ./cmd/winnow)
	rm -rf "$dir"
}
[ -x "$OUT/winnow-new" ] && [ "${REBUILD:-1}" = 0 ] || build HEAD "$OUT/winnow-new"
[ -x "$OUT/winnow-base" ] || build "$BASE" "$OUT/winnow-base"

feat=$OUT/features.parquet
if [ ! -e "$feat" ]; then
	if [ -e bench/out/sim/mobilenet-v2.parquet ] && [ -e bench/out/sim/images/labels.csv ]; then
		cp bench/out/sim/mobilenet-v2.parquet "$feat"
		cp bench/out/sim/images/labels.csv "$OUT/all-labels.csv"
	else
		go run ./tools/fmnist-export -o "$OUT/images" -train 2000 -test 0
		cp "$OUT/images/labels.csv" "$OUT/all-labels.csv"
		"$OUT/winnow-new" featurize "$OUT/images" -o "$feat" -q
	fi
fi
[ -e "$OUT/features.csv" ] || "$OUT/winnow-new" features export "$feat" -o "$OUT/features.csv"

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "| rows | winnow train --cv 3 (wall / CPU s) | of which CV (s) | cv.glmnet (wall / CPU s) | chosen l1, l2 | its tight CV loss / best | load before, after |"
echo "|---|---|---|---|---|---|---|"
for n in $SIZES; do
	lab=$OUT/labels-$n.csv
	# Rewritten only when it changes, so its time says when the rows did.
	awk -F, -v n="$n" 'NR == 1 { print "path,label" } NR > 1 && $3 == "train" && c < n { print $1 "," $2; c++ }' "$OUT/all-labels.csv" >"$lab.new"
	if cmp -s "$lab.new" "$lab"; then rm "$lab.new"; else mv "$lab.new" "$lab"; fi
	l0=$(load)
	/usr/bin/time -f "%e %U %S" -o "$OUT/time-$n" "$OUT/winnow-new" train --features "$feat" --labels "$lab" --cv 3 -o "$OUT/model-$n.json" 2>"$OUT/train-$n.log"
	read -r wall user sys <"$OUT/time-$n"
	cvs=$(sed -n 's/.*cross-validation chose .*(\([0-9.]*\) s)$/\1/p' "$OUT/train-$n.log")
	Rscript - "$OUT/features.csv" "$lab" >"$OUT/glmnet-$n.txt" <<'R'
suppressMessages(library(glmnet))
a <- commandArgs(TRUE)
f <- read.csv(a[1], check.names = FALSE)
l <- read.csv(a[2])
m <- merge(l, f, by = "path", sort = FALSE)
x <- as.matrix(m[, setdiff(names(m), c("path", "label"))])
s <- apply(abs(x), 2, max); s[s == 0] <- 1
x <- sweep(x, 2, s, "/")
y <- factor(m$label)
set.seed(1)
t <- system.time(cv <- cv.glmnet(x, y, alpha = 0.5, nfolds = 3, family = "multinomial", standardize = FALSE))
cat(sprintf("%.2f %.2f %d %g %g\n", t[["elapsed"]], t[["user.self"]] + t[["sys.self"]], length(cv$lambda), cv$lambda.min, min(cv$cvm)))
R
	read -r gwall gcpu glam gmin gcvm <"$OUT/glmnet-$n.txt"
	l1=$(load)
	# The tight full-grid search of BASE, for the quality check only.
	# Its table depends only on BASE and the rows, so an existing one newer
	# than the BASE binary (and than the labels it was made from) is reused.
	ratio="(BASE timed out)"
	base_ok=0
	if [ -s "$OUT/base-$n.json" ] && [ "$OUT/base-$n.json" -nt "$OUT/winnow-base" ] && [ "$OUT/base-$n.json" -nt "$lab" ]; then
		echo "reusing $OUT/base-$n.json" >&2
		base_ok=1
	elif timeout "$BASE_TIMEOUT" "$OUT/winnow-base" train --features "$feat" --labels "$lab" --cv 3 -o "$OUT/base-$n.json" 2>"$OUT/base-$n.log"; then
		base_ok=1
	fi
	if [ "$base_ok" = 1 ]; then
		read -r chosen ratio < <(python3 - "$OUT/model-$n.json" "$OUT/base-$n.json" <<'PY'
import json, sys
new = json.load(open(sys.argv[1]))["training"]["cv"]
old = json.load(open(sys.argv[2]))["training"]["cv"]
b = new["best"]
loss = {(r["l1"], r["l2"]): r["log_loss"] for r in old["rows"]}
print(f'{b["l1"]},{b["l2"]}', f'{loss[(b["l1"], b["l2"])] / min(loss.values()):.4f}')
PY
		)
	fi
	chosen=${chosen:-$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["training"]["cv"]["best"]; print(f"{b[\"l1\"]},{b[\"l2\"]}")' "$OUT/model-$n.json")}
	echo "| $n x 1920 | $wall / $(echo "$user + $sys" | bc) | $cvs | $gwall / $gcpu ($glam lambdas) | $chosen | $ratio | $l0; $l1 |"
	unset chosen
done
