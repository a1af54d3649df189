package backbone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibName is the file name of ONNX Runtime's shared library as shipped in the
// npm package onnxruntime-node, which `make deps` fetches into .deps/onnxruntime.
const LibName = "libonnxruntime.so.1"

// EnvLib names the environment variable that points at the shared library.
const EnvLib = "WINNOW_ORT_LIB"

var (
	initOnce sync.Once
	initErr  error
	initPath string
)

// Init loads ONNX Runtime once per process. explicit is the --ort-lib flag
// ("" when unset). Later calls return the first call's result: the runtime is
// a process-wide singleton and cannot be reloaded from another path.
func Init(explicit string) error {
	initOnce.Do(func() {
		path, tried, err := FindLibrary(explicit)
		if err != nil {
			initErr = err
			return
		}
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("loading ONNX Runtime from %s: %w\n(also considered: %s)", path, err, strings.Join(tried, ", "))
			return
		}
		initPath = path
	})
	return initErr
}

// LibraryPath reports the library Init loaded, or "" before a successful Init.
func LibraryPath() string { return initPath }

// RuntimeVersion is ONNX Runtime's own version string; "" before Init.
func RuntimeVersion() string {
	if initPath == "" {
		return ""
	}
	return ort.GetVersion()
}

// FindLibrary looks for the shared library in the documented order: the
// explicit flag, $WINNOW_ORT_LIB, next to the executable, a .deps/onnxruntime
// folder beside the executable or above the working directory (a checkout
// after `make deps`), and finally the system library folders. It returns the
// path found and every place it considered, so a failure can say exactly where
// it looked.
func FindLibrary(explicit string) (string, []string, error) {
	var tried []string
	check := func(p, why string) (string, bool) {
		tried = append(tried, fmt.Sprintf("%s (%s)", p, why))
		st, err := os.Stat(p)
		return p, err == nil && !st.IsDir()
	}
	// An explicit choice that is wrong is an error, not a reason to fall back
	// silently to some other library.
	if explicit != "" {
		if p, ok := check(explicit, "--ort-lib"); ok {
			return p, tried, nil
		}
		return "", tried, fmt.Errorf("--ort-lib %s: no such file", explicit)
	}
	if env := os.Getenv(EnvLib); env != "" {
		if p, ok := check(env, "$"+EnvLib); ok {
			return p, tried, nil
		}
		return "", tried, fmt.Errorf("$%s=%s: no such file", EnvLib, env)
	}
	var candidates [][2]string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Dir(exe)
			candidates = append(candidates,
				[2]string{filepath.Join(dir, LibName), "next to the executable"},
				[2]string{filepath.Join(dir, "..", "lib", "winnow", LibName), "installed beside the executable"},
				[2]string{filepath.Join(dir, "..", ".deps", "onnxruntime", LibName), "deps folder beside the executable"})
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, [2]string{filepath.Join(dir, ".deps", "onnxruntime", LibName), "deps folder"})
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
	}
	for _, d := range []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64"} {
		candidates = append(candidates, [2]string{filepath.Join(d, LibName), "system"}, [2]string{filepath.Join(d, "libonnxruntime.so"), "system"})
	}
	for _, c := range candidates {
		if p, ok := check(c[0], c[1]); ok {
			return filepath.Clean(p), tried, nil
		}
	}
	return "", tried, &MissingLibraryError{Tried: tried}
}

// MissingLibraryError explains where the runtime was looked for and how to get it.
type MissingLibraryError struct{ Tried []string }

func (e *MissingLibraryError) Error() string {
	var b strings.Builder
	b.WriteString("ONNX Runtime shared library (" + LibName + ") not found. Looked in:\n")
	for _, t := range e.Tried {
		b.WriteString("  " + t + "\n")
	}
	b.WriteString("Fix: run `make deps` in the winnow checkout (it fetches onnxruntime-node from npm),\n" +
		"or pass --ort-lib /path/to/" + LibName + ", or set " + EnvLib + ".")
	return b.String()
}

// ErrNotInitialized is returned by Open before Init succeeded.
var ErrNotInitialized = errors.New("backbone: ONNX Runtime is not initialised (call backbone.Init)")
