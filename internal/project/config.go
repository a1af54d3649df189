package project

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/BurntSushi/toml"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/query"
)

// Class is one class of the project, with the description participants
// read on the Learn page.
type Class struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
}

// Practice gates: all-correct opens the next practice page only when the
// current one is all correct; accuracy when the share right reaches
// MinAccuracy; off never blocks.
const (
	GateAllCorrect = "all-correct"
	GateAccuracy   = "accuracy"
	GateOff        = "off"
)

// Config is winnow.toml.
type Config struct {
	Title string `toml:"title"`
	About string `toml:"about"` // Markdown (rendered by the web package: escaped, a small safe subset)
	// Images is the image root (absolute or relative to the project
	// folder): a folder, or a manifest whose folder is then the root.
	Images   string  `toml:"images"`
	Backbone string  `toml:"backbone"`
	Classes  []Class `toml:"classes"`
	Strategy string  `toml:"strategy"`
	Batch    int     `toml:"batch"`
	// NoveltyShare is the share of each batch given to the most novel
	// unlabelled images (unlike every labelled one), whatever the
	// strategy: images of another kind among the target images, which a
	// confident model would otherwise never show to a person.
	NoveltyShare float64 `toml:"novelty_share"`
	L1           float64 `toml:"l1"`
	L2           float64 `toml:"l2"`
	Practice     struct {
		PageSize    int     `toml:"page_size"`
		Gate        string  `toml:"gate"` // "all-correct", "accuracy", "off"
		MinAccuracy float64 `toml:"min_accuracy"`
		// Share of the gold items set aside for practice; the rest test
		// the models. Which items is decided by a hash of (Seed, path).
		Share float64 `toml:"share"`
		// MaxItems caps the practice items: gold the hash puts on the
		// practice side beyond it goes to test (see ImportLabels). It caps
		// the practice role, hidden gold's reserve included.
		MaxItems int `toml:"max_items"`
	} `toml:"practice"`
	// Label tunes the Label page. HiddenGold is the share of each
	// participant's queue that is gold practice items they have not
	// practised on, mixed in unannounced to measure accuracy while they
	// label (0: off). Their answers never train: a gold label wins.
	Label struct {
		HiddenGold float64 `toml:"hidden_gold"`
	} `toml:"label"`
	TrainFlagged bool `toml:"train_flagged"` // do "bad example" answers train? default false
	// Seed drives the gold split, the selection's ties and random picks.
	Seed uint64 `toml:"seed"`
}

// DefaultConfig is the configuration init starts from.
func DefaultConfig() Config {
	var c Config
	c.Title = "winnow labelling"
	c.Strategy = "entropy"
	c.Batch = 20
	c.NoveltyShare = 0.1
	c.L1, c.L2 = 0.01, 0.01
	c.Practice.PageSize = 10
	c.Practice.Gate = GateAllCorrect
	c.Practice.MinAccuracy = 0.8
	c.Practice.Share = 0.5
	c.Practice.MaxItems = 20
	c.Seed = 1
	return c
}

// ClassNames returns the class names in order.
func (c Config) ClassNames() []string {
	names := make([]string, len(c.Classes))
	for i, cl := range c.Classes {
		names[i] = cl.Name
	}
	return names
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var probs []string
	if len(c.Classes) < 2 {
		probs = append(probs, fmt.Sprintf("classes: need at least 2, have %d", len(c.Classes)))
	}
	seen := map[string]bool{}
	for i, cl := range c.Classes {
		switch {
		case strings.TrimSpace(cl.Name) == "":
			probs = append(probs, fmt.Sprintf("classes[%d]: empty name", i))
		case cl.Name != strings.TrimSpace(cl.Name):
			probs = append(probs, fmt.Sprintf("classes[%d]: name %q has leading or trailing spaces", i, cl.Name))
		case seen[cl.Name]:
			probs = append(probs, fmt.Sprintf("classes: %q named twice", cl.Name))
		case strings.EqualFold(cl.Name, labelstore.NoneOption):
			probs = append(probs, fmt.Sprintf("classes[%d]: %q is reserved: it means \"none of these\" in answers and label files", i, cl.Name))
		}
		seen[cl.Name] = true
	}
	if c.Images == "" {
		probs = append(probs, "images: empty")
	}
	if !slices.Contains(query.Names(), c.Strategy) {
		probs = append(probs, fmt.Sprintf("strategy: %q is not one of %s", c.Strategy, strings.Join(query.Names(), ", ")))
	}
	if !(c.NoveltyShare >= 0 && c.NoveltyShare <= 1) {
		probs = append(probs, fmt.Sprintf("novelty_share: must be in [0, 1], got %g", c.NoveltyShare))
	}
	if c.Batch <= 0 {
		probs = append(probs, fmt.Sprintf("batch: must be positive, got %d", c.Batch))
	}
	// Written as !(v >= 0) so that nan, which TOML allows, is refused too.
	for _, f := range []struct {
		key string
		v   float64
	}{{"l1", c.L1}, {"l2", c.L2}} {
		if !(f.v >= 0) || math.IsInf(f.v, 1) {
			probs = append(probs, fmt.Sprintf("%s: must be a finite number >= 0, got %g", f.key, f.v))
		}
	}
	if c.Practice.PageSize <= 0 {
		probs = append(probs, fmt.Sprintf("practice.page_size: must be positive, got %d", c.Practice.PageSize))
	}
	if c.Practice.MaxItems <= 0 {
		probs = append(probs, fmt.Sprintf("practice.max_items: must be positive, got %d", c.Practice.MaxItems))
	}
	if !slices.Contains([]string{GateAllCorrect, GateAccuracy, GateOff}, c.Practice.Gate) {
		probs = append(probs, fmt.Sprintf("practice.gate: %q is not all-correct, accuracy or off", c.Practice.Gate))
	}
	if !(c.Label.HiddenGold >= 0 && c.Label.HiddenGold <= 0.5) {
		probs = append(probs, fmt.Sprintf("label.hidden_gold: must be in [0, 0.5], got %g", c.Label.HiddenGold))
	}
	if !(c.Practice.MinAccuracy >= 0 && c.Practice.MinAccuracy <= 1) {
		probs = append(probs, fmt.Sprintf("practice.min_accuracy: must be in [0, 1], got %g", c.Practice.MinAccuracy))
	}
	if !(c.Practice.Share >= 0 && c.Practice.Share <= 1) {
		probs = append(probs, fmt.Sprintf("practice.share: must be in [0, 1], got %g", c.Practice.Share))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

// LoadConfig reads and validates a winnow.toml. Unknown keys are errors, so
// a misspelt key does not silently keep its default.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	c.Classes = nil
	c.Title = ""
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("%s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlText writes s as a multi-line basic string, so the about text stays
// readable (and editable) in the file.
func tomlText(s string) string {
	var b strings.Builder
	b.WriteString("\"\"\"\n")
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`) // never three in a row, which would end the string
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"""`)
	return b.String()
}

func tomlFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

var configTemplate = template.Must(template.New("winnow.toml").Funcs(template.FuncMap{
	"str": tomlString, "text": tomlText, "float": tomlFloat, "strategies": func() string { return strings.Join(query.Names(), ", ") },
}).Parse(`# winnow project settings. winnow reads this file at every start (serve,
# round close, status); edit it with the server stopped. Unknown keys are
# errors, so a misspelt key cannot silently keep its default.

# Shown at the top of every page.
title = {{str .Title}}

# The About page, in Markdown (a small safe subset: paragraphs, emphasis,
# lists, links; HTML is shown as text).
about = {{text .About}}

# The images: a folder (searched recursively) or a manifest, absolute or
# relative to this folder. Images are only ever served from inside it.
images = {{str .Images}}

# The backbone the features in features/ were made with (winnow backbone
# list). Changing it needs a new project: the features would not match.
backbone = {{str .Backbone}}

# Active learning: the strategy that picks each round's images ({{strategies}})
# and how many it picks per round.
strategy = {{str .Strategy}}
batch = {{.Batch}}
# Share of each batch given to the most novel images (unlike every labelled
# one: photos of another kind, say), whatever the strategy; 0 turns it off.
novelty_share = {{float .NoveltyShare}}

# Penalties of the elastic-net logistic regression trained at each round
# close (see winnow train --help).
l1 = {{float .L1}}
l2 = {{float .L2}}

# Do answers flagged "bad example" train? With false, an item whose winning
# class has at least half its votes flagged is left out of training.
train_flagged = {{.TrainFlagged}}

# Seed for the split of gold items into practice and test, for ties in the
# selection, and for random picks.
seed = {{.Seed}}

[practice]
# Gold items per practice page.
page_size = {{.Practice.PageSize}}
# When the next page opens: "all-correct" (every answer of the page right),
# "accuracy" (share right >= min_accuracy), or "off".
gate = {{str .Practice.Gate}}
min_accuracy = {{float .Practice.MinAccuracy}}
# Share of the gold labels used for practice (they also train); the rest
# are the test set every model is evaluated on, and never train.
share = {{float .Practice.Share}}
# At most this many gold items are practice items; gold the share puts on
# the practice side beyond it goes to test. With page_size it sets how many
# practice pages a participant does. It applies as gold is imported: raising
# it lets a later import add practice items, lowering it never turns an
# existing practice item into a test item. With [label] hidden_gold on,
# about half of the practice items are kept for it, off the pages.
max_items = {{.Practice.MaxItems}}

[label]
# Share of each participant's queue that is hidden gold: practice items they
# have not practised on, mixed in unannounced, so that the assessment
# measures accuracy while they label (0 = off; at most 0.5). Their answers
# never train (a gold label wins).
hidden_gold = {{float .Label.HiddenGold}}

# The classes, in order (keys 1..9 on the Label page follow this order).
# The description is what participants read on the Learn page.
{{range .Classes}}
[[classes]]
name = {{str .Name}}
description = {{text .Description}}
{{end}}`))

// Render returns the commented winnow.toml for c.
func (c Config) Render() ([]byte, error) {
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ImageRoot returns the folder images are resolved in: Images itself when
// it is a folder, the manifest's folder otherwise. Relative Images are
// relative to the project folder dir.
func (c Config) ImageRoot(dir string) (string, error) {
	src := c.imageSource(dir)
	st, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("images: %w", err)
	}
	if st.IsDir() {
		return src, nil
	}
	return filepath.Dir(src), nil
}

func (c Config) imageSource(dir string) string {
	if filepath.IsAbs(c.Images) {
		return c.Images
	}
	return filepath.Join(dir, c.Images)
}
