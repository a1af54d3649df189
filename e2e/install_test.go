package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make install lays out a tree that works from anywhere: installed into one
// prefix, copied to another folder, the original removed, with no winnow
// environment variable and outside the checkout, the copy still finds ONNX
// Runtime, libjpeg and the built-in backbones, and featurizes.
func TestInstalledTreeTravels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs a tree")
	}
	tmp := t.TempDir()
	prefix := filepath.Join(tmp, "prefix")
	mk := exec.Command("make", "-s", "install", "PREFIX="+prefix)
	mk.Dir = repo(".")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	moved := filepath.Join(tmp, "elsewhere", "winnow")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", prefix, moved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if err := os.RemoveAll(prefix); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bin/winnow", "lib/winnow/libonnxruntime.so.1", "lib/winnow/libjpeg.so.62", "share/winnow/backbones/mobilenet-v2.onnx"} {
		if _, err := os.Stat(filepath.Join(moved, want)); err != nil {
			t.Errorf("installed tree lacks %s", want)
		}
	}
	work := filepath.Join(tmp, "work")
	os.MkdirAll(work, 0o755)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WINNOW_") && !strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
			env = append(env, kv)
		}
	}
	bin := filepath.Join(moved, "bin", "winnow")
	runIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("winnow %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	v := runIn("version")
	if !strings.Contains(v, filepath.Join(moved, "lib", "winnow")) {
		t.Errorf("ONNX Runtime not loaded from the installed tree:\n%s", v)
	}
	ldd, _ := exec.Command("ldd", bin).CombinedOutput()
	if !strings.Contains(string(ldd), moved+"/bin/../lib/winnow/libjpeg.so.62") {
		t.Errorf("libjpeg not resolved from the installed tree:\n%s", ldd)
	}
	list := filepath.Join(work, "list.txt")
	os.WriteFile(list, []byte(repo("testdata/images/fmnist/bag/00018.png")+"\n"+repo("testdata/images/photos/china.jpg")+"\n"), 0o644)
	out := runIn("featurize", list, "-o", filepath.Join(work, "f.parquet"), "-q")
	if !strings.Contains(out, "mobilenet-v2") {
		t.Errorf("featurize with the default backbone from the installed tree:\n%s", out)
	}
	info := runIn("features", "info", filepath.Join(work, "f.parquet"))
	if !strings.Contains(info, "rows:        2") {
		t.Errorf("features info:\n%s", info)
	}
}
