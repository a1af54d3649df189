# winnow's build. `make demo` and `make test` work on a fresh machine: `deps`
# fetches what they need (ONNX Runtime from npm, pinned and checksummed).
GO      ?= go
DEPS    := .deps
ORT_LIB := $(DEPS)/onnxruntime/libonnxruntime.so.1
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The binary looks for libjpeg beside itself first (../lib/winnow, where
# make install puts a copy), so an installed tree can be copied to another
# machine of the same kind.
LDFLAGS := -X main.version=$(VERSION) -linkmode external -extldflags '-Wl,-rpath,\$$ORIGIN/../lib/winnow'
PREFIX  ?= /usr/local
DIST    := winnow-$(VERSION)-linux-$(shell uname -m)

.PHONY: all deps build test bench demo clean install dist

all: build

deps: $(ORT_LIB) $(DEPS)/apt.ok $(DEPS)/backbones/.ok $(DEPS)/duckdb.ok $(DEPS)/onnx-node.ok $(DEPS)/slurm.ok

$(ORT_LIB): scripts/fetch-ort.sh
	scripts/fetch-ort.sh $(DEPS)/onnxruntime

# Debian packages: libjpeg-turbo's headers (JPEG decoding at a reduced DCT
# scale), Fashion-MNIST (real labelled images for tests and benchmarks) and
# Chromium (the labelling website's browser tests drive it headless).
$(DEPS)/apt.ok: scripts/apt-need.sh
	scripts/apt-need.sh libjpeg62-turbo-dev:/usr/include/jpeglib.h \
		dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
		chromium:/usr/bin/chromium
	@mkdir -p $(DEPS) && touch $@

# Slurm and MUNGE (Debian), for e2e/slurm_test.go's private single-node
# cluster. Never fails: without them it says why at every make deps (no
# stamp is made) and the test skips.
$(DEPS)/slurm.ok: scripts/slurm-deps.sh
	scripts/slurm-deps.sh $@

# The built-in backbones: Keras models from the npm package nsfwjs, converted
# to ONNX by winnow itself (internal/tfjs), tapped as internal/backbone says.
$(DEPS)/nsfwjs/VERSION: scripts/fetch-nsfwjs.sh
	scripts/fetch-nsfwjs.sh $(DEPS)/nsfwjs

$(DEPS)/backbones/.ok: $(DEPS)/nsfwjs/VERSION internal/backbone/builtin.go $(wildcard internal/tfjs/*.go)
	$(GO) run ./cmd/winnow backbone install --from $(DEPS)/nsfwjs --to $(DEPS)/backbones
	@touch $@

# DuckDB (npm, no install scripts), so the tests check that an independent
# reader takes featurize's Parquet files as they are.
$(DEPS)/duckdb.ok: internal/featstore/testdata/package-lock.json
	npm ci --ignore-scripts --silent --prefix internal/featstore/testdata
	@mkdir -p $(DEPS) && touch $@

# onnxruntime-node and pngjs (npm, no install scripts) for the README's
# example that runs an exported classifier.onnx outside winnow.
$(DEPS)/onnx-node.ok: tools/onnx-node-example/package-lock.json
	npm ci --ignore-scripts --silent --prefix tools/onnx-node-example
	@mkdir -p $(DEPS) && touch $@

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/winnow ./cmd/winnow

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	# Fuzz budgets are counts of executions (about 10 s each on a quiet
	# machine), not durations: with a duration, Go 1.26's fuzz coordinator
	# can report "context deadline exceeded" as a failure when the time runs
	# out under load (golang/go#75804, fixed in Go 1.27).
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 6000x -fuzzminimizetime 100x ./internal/classifier
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 5000x -fuzzminimizetime 100x ./internal/tfjs
	$(GO) test -run '^$$' -fuzz FuzzOpenFeatures -fuzztime 2000x -fuzzminimizetime 100x ./internal/dataset
	$(GO) test -run '^$$' -fuzz FuzzFitSIMD -fuzztime 8000x -fuzzminimizetime 100x ./internal/imageio

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The main job on built-in defaults: featurize the bundled images with the
# default backbone (bad files are reported, not fatal), replay active
# learning on the labelled Fashion-MNIST sample and write an HTML report,
# then build a labelling project on 3,000 Fashion-MNIST images and serve it.
demo: build
	@rm -rf demo-out && mkdir -p demo-out
	bin/winnow featurize testdata/images -o demo-out/features.parquet --errors demo-out/errors.jsonl
	bin/winnow features info demo-out/features.parquet
	@echo "--- skipped files (demo-out/errors.jsonl):" && cut -c1-120 demo-out/errors.jsonl
	bin/winnow featurize testdata/images/fmnist -o demo-out/fmnist.parquet -q
	bin/winnow simulate --features demo-out/fmnist.parquet --labels testdata/images/fmnist/labels.csv \
		--out demo-out/simulate --test-fraction 0.3 --initial-per-class 2 --batch 5 --rounds 5 \
		--strategies entropy,margin,random --repeats 5
	@echo "--- open demo-out/simulate/report.html in a browser"
	@echo "--- a labelling project on 3000 Fashion-MNIST images: 300 gold labels (practice + test), first batch selected"
	$(GO) run ./tools/fmnist-export -o demo-out/fmnist-images -train 3000 -test 0
	head -n 301 demo-out/fmnist-images/labels.csv > demo-out/gold.csv
	bin/winnow init demo-out/project --images demo-out/fmnist-images --gold demo-out/gold.csv -q \
		--title "Fashion-MNIST demo" --batch 20 \
		--classes t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle-boot \
		--describe "t-shirt=Short sleeves, no collar or buttons, pulled over the head" \
		--describe "trouser=Two legs; seen from the front, a gap between them" \
		--describe "pullover=Long sleeves, knitted, no opening at the front" \
		--describe "dress=One piece from shoulders to below the hips, wider at the bottom" \
		--describe "coat=Outerwear with long sleeves and an opening down the front (buttons or a zip)" \
		--describe "sandal=Open footwear: straps, toes and heel visible" \
		--describe "shirt=Collar and buttons down the front, short or long sleeves" \
		--describe "sneaker=Closed low shoe with a flat sole and laces" \
		--describe "bag=Handbag or shopping bag: a body and a handle or strap, no sleeves" \
		--describe "ankle-boot=Closed shoe rising above the ankle, often with a heel"
	bin/winnow status demo-out/project
	@echo "--- the labelling site (Ctrl-C stops it); winnow round close demo-out/project closes a round from the shell"
	bin/winnow serve demo-out/project

clean:
	rm -rf bin demo-out

# An install that travels: bin/winnow, ONNX Runtime and libjpeg in
# lib/winnow, the built-in backbones in share/winnow/backbones; winnow finds
# them relative to itself, so the tree can be moved or copied as a whole.
install: build
	scripts/install-tree.sh "$(DESTDIR)$(PREFIX)"

dist: build
	@rm -rf bin/$(DIST) && scripts/install-tree.sh bin/$(DIST)
	tar -C bin -czf bin/$(DIST).tar.gz $(DIST) && rm -rf bin/$(DIST)
	@echo "wrote bin/$(DIST).tar.gz"
