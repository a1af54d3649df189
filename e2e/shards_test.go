package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winnowml/winnow/internal/featstore"
)

// shardManifest writes a manifest over n Fashion-MNIST PNGs and any extra
// entries (URLs), and returns it with the rows of an unsharded run of the
// same model.
func shardManifest(t *testing.T, n int, model string, extra ...string) (string, map[string]fullRow) {
	t.Helper()
	src := fmnistFolder(t, n)
	var lines []string
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(src, p)
			lines = append(lines, filepath.ToSlash(rel))
		}
		return nil
	})
	lines = append(lines, extra...)
	lines = append(lines, "gone.png") // an error row, which merge must find in the errors files
	manifest := filepath.Join(src, "manifest.txt")
	os.WriteFile(manifest, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	ref := filepath.Join(t.TempDir(), "ref.parquet")
	if _, stderr, code := run(t, "featurize", manifest, "-o", ref, "--model", model, "-q"); code != 0 {
		t.Fatalf("unsharded run: exit %d\n%s", code, stderr)
	}
	return manifest, fullRows(t, ref)
}

func mergeAndCompare(t *testing.T, what, dir, manifest string, want map[string]fullRow) {
	t.Helper()
	all := filepath.Join(t.TempDir(), "all.parquet")
	if _, stderr, code := run(t, "features", "merge", dir, "-o", all, "--manifest", manifest); code != 0 {
		t.Fatalf("%s: merge: exit %d\n%s", what, code, stderr)
	}
	sameRows(t, what, fullRows(t, all), want)
}

// TestDeployFiles runs the commands of deploy/kubernetes/featurize-job.yaml
// and deploy/slurm/featurize.sbatch as the engines would: the container's
// command and args with $(VAR) expanded from its env and JOB_COMPLETION_INDEX
// set, for every index of the Job's completions; the batch script under bash
// with the SLURM_ARRAY_* variables of every task of its --array. Only the
// values a user edits (manifest, output, model) are pointed at local files.
// Both merges must equal an unsharded run.
func TestDeployFiles(t *testing.T) {
	const model = "pixels:28x28:gray"
	manifest, want := shardManifest(t, 120, model)

	t.Run("kubernetes", func(t *testing.T) {
		b, err := os.ReadFile(repo("deploy/kubernetes/featurize-job.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var job struct {
			Kind string
			Spec struct {
				CompletionMode       string `yaml:"completionMode"`
				Completions          int
				Parallelism          int
				BackoffLimitPerIndex *int `yaml:"backoffLimitPerIndex"`
				Template             struct {
					Spec struct {
						RestartPolicy string `yaml:"restartPolicy"`
						Containers    []struct {
							Command, Args []string
							Env           []struct {
								Name      string
								Value     *string
								ValueFrom any `yaml:"valueFrom"`
							}
						}
					}
				}
			}
		}
		if err := yaml.Unmarshal(b, &job); err != nil {
			t.Fatal(err)
		}
		s := job.Spec
		if job.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions < 2 || s.Parallelism < 1 ||
			s.BackoffLimitPerIndex == nil || s.Template.Spec.RestartPolicy != "Never" || len(s.Template.Spec.Containers) != 1 {
			t.Fatalf("not an Indexed Job with per-index retries: %+v", job)
		}
		c := s.Template.Spec.Containers[0]
		dir := filepath.Join(t.TempDir(), "shards") + "/"
		env := map[string]string{}
		for _, e := range c.Env {
			if e.Value != nil {
				env[e.Name] = *e.Value
			}
		}
		if env["WINNOW_SHARDS"] != strconv.Itoa(s.Completions) {
			t.Errorf("WINNOW_SHARDS=%q but completions %d: the shard count must be the Job's", env["WINNOW_SHARDS"], s.Completions)
		}
		for k, v := range map[string]string{"WINNOW_MANIFEST": manifest, "WINNOW_OUT": dir, "WINNOW_MODEL": model} {
			if _, ok := env[k]; !ok {
				t.Fatalf("the Job sets no %s", k)
			}
			env[k] = v
		}
		// Kubernetes expands $(VAR) in command and args from the container env.
		expand := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
		argv := append(append([]string{}, c.Command...), c.Args...)
		for i, a := range argv {
			argv[i] = expand.ReplaceAllStringFunc(a, func(m string) string { return env[m[2:len(m)-1]] })
		}
		if argv[0] != "winnow" {
			t.Fatalf("command %v does not start with winnow", argv)
		}
		runIndexes(t, s.Completions, func(i int) *exec.Cmd {
			cmd := exec.Command(winnow, argv[1:]...)
			cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i))
			return cmd
		})
		mergeAndCompare(t, "kubernetes", dir, manifest, want)
	})

	t.Run("slurm", func(t *testing.T) {
		script := repo("deploy/slurm/featurize.sbatch")
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^#SBATCH --array=(\d+)-(\d+)(%\d+)?\s*$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatal("no #SBATCH --array=A-B line")
		}
		lo, _ := strconv.Atoi(m[1])
		hi, _ := strconv.Atoi(m[2])
		cpus := regexp.MustCompile(`(?m)^#SBATCH --cpus-per-task=(\d+)`).FindStringSubmatch(string(b))
		if lo != 0 || cpus == nil {
			t.Fatalf("--array must start at 0 (shard indexes), and --cpus-per-task be set: %v %v", m, cpus)
		}
		dir := filepath.Join(t.TempDir(), "shards") + "/"
		count := hi - lo + 1
		// sbatch runs the script with bash; winnow is found on PATH.
		path := filepath.Dir(winnow) + string(os.PathListSeparator) + os.Getenv("PATH")
		runIndexes(t, count, func(i int) *exec.Cmd {
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+t.TempDir(),
				"WINNOW_MANIFEST="+manifest, "WINNOW_OUT="+dir, "WINNOW_MODEL="+model, "WINNOW_SHARDS="+strconv.Itoa(count),
				fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", i), fmt.Sprintf("SLURM_ARRAY_TASK_COUNT=%d", count),
				fmt.Sprintf("SLURM_ARRAY_TASK_MIN=%d", lo), fmt.Sprintf("SLURM_ARRAY_TASK_MAX=%d", hi),
				"SLURM_CPUS_PER_TASK="+cpus[1])
			return cmd
		})
		mergeAndCompare(t, "slurm", dir, manifest, want)
	})
}

// runIndexes runs one process per index, a few at a time, and fails on any
// non-zero exit.
func runIndexes(t *testing.T, n int, mk func(i int) *exec.Cmd) {
	t.Helper()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if out, err := mk(i).CombinedOutput(); err != nil {
				t.Errorf("index %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
}

// TestShardsDefaultBackbone: the same equality with the default backbone,
// on a few images (it is ~100x slower than pixels), and --shard auto from
// JOB_COMPLETION_INDEX without --shards refused.
func TestShardsDefaultBackbone(t *testing.T) {
	manifest, want := shardManifest(t, 16, "mobilenet-v2")
	dir := filepath.Join(t.TempDir(), "shards")
	for i := 0; i < 2; i++ {
		if _, stderr, code := run(t, "featurize", manifest, "--shard", fmt.Sprintf("%d/2", i), "-o", dir, "-q", "--threads", "1"); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, stderr)
		}
	}
	if _, err := os.Stat(featstore.ShardFile(dir, 1, 2)); err != nil {
		t.Fatal(err)
	}
	mergeAndCompare(t, "mobilenet-v2 shards", dir, manifest, want)

	cmd := exec.Command(winnow, "featurize", manifest, "--shard", "auto", "-o", dir)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=1")
	out, code := runOut(cmd)
	if code != 2 || !strings.Contains(out, "--shards") {
		t.Errorf("--shard auto without --shards on Kubernetes: exit %d\n%s", code, out)
	}
}

// TestShardOutputFileName: with --shard, -o is a folder; a name ending in
// .parquet is the unsharded habit and would otherwise become a folder of
// that name holding the parts. It is refused as a usage error, and a
// trailing / says the name is meant as a folder.
func TestShardOutputFileName(t *testing.T) {
	src := repo("testdata/images/fmnist")
	work := t.TempDir()
	for _, o := range []string{"features.parquet", "Features.PARQUET"} {
		out := filepath.Join(work, o)
		_, stderr, code := run(t, "featurize", src, "--shard", "0/2", "-o", out, "--model", "pixels:8x8:gray", "-q")
		if code != 2 || !strings.Contains(stderr, "folder") || !strings.Contains(stderr, o) {
			t.Errorf("--shard 0/2 -o %s: exit %d, want 2 and a message about the folder\n%s", o, code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("--shard 0/2 -o %s left %s behind (%v)", o, out, err)
		}
	}
	file := filepath.Join(work, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, stderr, code := run(t, "featurize", src, "--shard", "0/2", "-o", file, "--model", "pixels:8x8:gray", "-q"); code != 2 || !strings.Contains(stderr, "is a file") {
		t.Errorf("--shard 0/2 -o an existing file: exit %d, want 2\n%s", code, stderr)
	}
	dir := filepath.Join(work, "features.parquet") + "/"
	if _, stderr, code := run(t, "featurize", src, "--shard", "0/2", "-o", dir, "--model", "pixels:8x8:gray", "-q"); code != 0 {
		t.Fatalf("--shard 0/2 -o %s (a trailing /): exit %d\n%s", dir, code, stderr)
	}
	if _, err := os.Stat(featstore.ShardFile(dir, 0, 2)); err != nil {
		t.Error(err)
	}
}

// TestExportWithMeta: features export --with-meta puts each row's sha256,
// width and height between path and the features, as the Parquet has them.
func TestExportWithMeta(t *testing.T) {
	work := t.TempDir()
	feats := filepath.Join(work, "f.parquet")
	runOK(t, "featurize", repo("testdata/images/fmnist"), "-o", feats, "--model", "pixels:8x8:gray", "-q")
	want := fullRows(t, feats)
	runOK(t, "features", "export", feats, "-o", filepath.Join(work, "f.csv"), "--with-meta")
	b, err := os.ReadFile(filepath.Join(work, "f.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want)+1 || strings.Join(recs[0][:5], ",") != "path,sha256,width,height,f0" || len(recs[0]) != 4+64 {
		t.Fatalf("%d records for %d rows, header %v", len(recs), len(want), recs[0])
	}
	for _, rec := range recs[1:] {
		w, ok := want[rec[0]]
		if !ok || rec[1] != w.sha || rec[2] != strconv.Itoa(int(w.w)) || rec[3] != strconv.Itoa(int(w.h)) {
			t.Fatalf("%v: want %+v", rec[:4], w)
		}
		for j, s := range rec[4:] {
			if v, err := strconv.ParseFloat(s, 32); err != nil || float32(v) != w.feat[j] {
				t.Fatalf("%s f%d = %q, want %g", rec[0], j, s, w.feat[j])
			}
		}
	}
	// Without the flag, the CSV is as before: path then the features.
	out, _ := runOK(t, "features", "export", feats)
	if head, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(head, "path,f0,f1,") {
		t.Errorf("export without --with-meta: header %q", head)
	}
}
