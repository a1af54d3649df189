// Package project is a winnow project on disk and the operations on it: a
// folder holding
//
//	winnow.toml   the settings (classes, strategy, batch, practice, about)
//	winnow.db     the labelling database (internal/labelstore)
//	features/     features.parquet, made by init with the backbone
//	labels/       the training labels of each round close (round-N.csv) and the gold test set
//	picks/        each round's selection as internal/query writes it
//	models/       the model trained at init (round-0.json) and at each round close
//	reports/      the evaluation of each model on the gold test items (round-N.html)
//
// Init creates one; CloseRound turns a round's answers into labels, trains,
// evaluates and opens the next round. The web server and the CLI verbs both
// call these, so a round closed from the admin page and from
// `winnow round close` is the same code.
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/outfile"
)

// File and folder names inside a project.
const (
	ConfigFile   = "winnow.toml"
	DBFile       = "winnow.db"
	FeaturesDir  = "features"
	FeaturesFile = "features/features.parquet"
	LabelsDir    = "labels"
	PicksDir     = "picks"
	ModelsDir    = "models"
	ReportsDir   = "reports"
)

// Project is an open project folder.
type Project struct {
	dir   string
	cfg   Config
	store *labelstore.Store
	root  string // image root, symlinks resolved

	// closeMu makes CloseRound exclusive within this process; the round's
	// state in the database makes it exclusive across processes.
	closeMu  sync.Mutex
	progMu   sync.Mutex
	progress CloseProgress
}

// Open opens an existing project folder: reads winnow.toml, opens the
// database (migrating it) and records the classes in it. A folder whose
// winnow.db is missing or is not a winnow database is refused: only Init
// creates one.
func Open(dir string) (*Project, error) { return openDir(dir, openWrite) }

// OpenReadOnly opens an existing project for reading only (status,
// assess): the database is neither migrated nor written, so it works on a
// project the user cannot write and while winnow serve runs. Operations
// that write (CloseRound, imports) fail.
func OpenReadOnly(dir string) (*Project, error) { return openDir(dir, openRead) }

type openMode int

const (
	openCreate openMode = iota // init: the database may not exist yet
	openWrite
	openRead
)

func openDir(dir string, mode openMode) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(abs, ConfigFile)
	if _, err := os.Stat(cfgPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a winnow project (no %s; create one with winnow init)", dir, ConfigFile)
		}
		return nil, err
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return open(abs, cfg, mode)
}

func open(abs string, cfg Config, mode openMode) (*Project, error) {
	root, err := cfg.ImageRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(abs, ConfigFile), err)
	}
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, err
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(abs, DBFile)
	var st *labelstore.Store
	switch mode {
	case openCreate:
		st, err = labelstore.Open(dbPath)
	case openWrite:
		st, err = labelstore.OpenExisting(dbPath)
	default:
		st, err = labelstore.OpenReadOnly(dbPath)
	}
	if errors.Is(err, labelstore.ErrNotWinnow) {
		return nil, fmt.Errorf("%s is not a winnow project: %s %s (winnow init creates it; restore it from a backup if it was deleted)", abs, DBFile, notWinnowWhy(dbPath))
	}
	if err != nil {
		return nil, err
	}
	if mode != openRead {
		if err := st.SetClasses(context.Background(), cfg.ClassNames()); err != nil {
			st.Close()
			return nil, err
		}
	}
	st.SetHiddenGold(cfg.Label.HiddenGold)
	return &Project{dir: abs, cfg: cfg, store: st, root: root}, nil
}

// notWinnowWhy says how the database fails to be one, for the message.
func notWinnowWhy(path string) string {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	return "is not a winnow database"
}

// Close closes the database.
func (p *Project) Close() error { return p.store.Close() }

// Dir is the project folder (absolute).
func (p *Project) Dir() string { return p.dir }

// Config returns the settings read from winnow.toml.
func (p *Project) Config() Config { return p.cfg }

// Store is the labelling database.
func (p *Project) Store() *labelstore.Store { return p.store }

// ImageRoot is the folder images are served from (symlinks resolved).
func (p *Project) ImageRoot() string { return p.root }

func (p *Project) path(rel string) string { return filepath.Join(p.dir, filepath.FromSlash(rel)) }

// ErrOutsideRoot is returned by ImagePath for an item whose file would lie
// outside the image root.
var ErrOutsideRoot = errors.New("image path outside the image root")

// ImagePath resolves an item's file inside the image root: no "..", no
// absolute paths, no symlink escaping the root (EvalSymlinks + prefix
// check). The web serves images only by item id.
func (p *Project) ImagePath(ctx context.Context, id labelstore.ItemID) (string, error) {
	it, err := p.store.Item(ctx, id)
	if err != nil {
		return "", err
	}
	return resolveInside(p.root, it.Path)
}

// resolveInside joins rel to root and refuses anything that would leave
// root: checking the cleaned string is not enough, as a symlink inside the
// root may point anywhere, so the final check is on the resolved path.
func resolveInside(root, rel string) (string, error) {
	if rel == "" || strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("%w: %q", ErrOutsideRoot, rel)
	}
	native := filepath.FromSlash(rel)
	if filepath.IsAbs(native) || filepath.IsAbs(rel) || filepath.VolumeName(native) != "" || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) {
		return "", fmt.Errorf("%w: %q is absolute", ErrOutsideRoot, rel)
	}
	for _, part := range strings.FieldsFunc(rel, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrOutsideRoot, rel)
		}
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, native))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q resolves to %s", ErrOutsideRoot, rel, real)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file", rel)
	}
	return real, nil
}

// ModelPath returns the newest model file, "" before the first.
func (p *Project) ModelPath() string {
	ms, err := p.store.Metrics(context.Background())
	if err != nil {
		return ""
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Model != "" {
			return p.path(ms[i].Model)
		}
	}
	return ""
}

// ReportPath returns the evaluation page of the model trained when the
// round closed (0: at init), "" if there is none.
func (p *Project) ReportPath(roundNumber int) string {
	path := p.path(reportRel(roundNumber))
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

func reportRel(n int) string { return fmt.Sprintf("%s/round-%d.html", ReportsDir, n) }
func modelRel(n int) string  { return fmt.Sprintf("%s/round-%d.json", ModelsDir, n) }
func labelsRel(n int) string { return fmt.Sprintf("%s/round-%d.csv", LabelsDir, n) }
func picksRel(n int) string  { return fmt.Sprintf("%s/round-%d.csv", PicksDir, n) }

// writeAtomic writes a file so that it appears complete or not at all
// (outfile: temporary file, fsync, rename), creating its folder first.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := outfile.Write(path, write); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
