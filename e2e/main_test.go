// Package e2e runs the winnow binary as a user would: built once, driven by
// its command line, killed mid-run, its files read back.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var winnow string // path of the binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "winnow-e2e")
	if err != nil {
		panic(err)
	}
	winnow = filepath.Join(dir, "winnow")
	build := exec.Command("go", "build", "-o", winnow, "../cmd/winnow")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building winnow:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repo(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// runOK is run for a command that must succeed: any other exit status
// fails the test with winnow's stderr.
func runOK(t testing.TB, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("winnow %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// run executes winnow and returns stdout, stderr and the exit code.
func run(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, exec.Command(winnow, args...))
}

// runCmd runs a prepared command and returns its stdout, stderr and exit
// code; a command that could not run at all fails the test.
func runCmd(t testing.TB, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return stdout.String(), stderr.String(), code
}
